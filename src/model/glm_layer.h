// One GLM transformer layer with explicit forward and backward (docs/design.md section 2).
// With the default DeepNorm placement (model.layernorm, modeldef/model_config.h):
//
//   a   = LN_in(x)
//   h   = alpha * a + dropout(Attn(a))        alpha = (2N)^(1/2)  (DeepNorm)
//   m   = LN_post(h)
//   out = alpha * m + dropout(MLP(m))         MLP = W2 (x1 * GELU(x2)),  [x1 x2] = W1 m
//
// post_ln is the same with alpha = 1. pre_ln adds each sublayer to the un-normalised stream
// (h = x + dropout(Attn(a)), out = h + dropout(MLP(m))); sandwich does too, through one more
// LN on each sublayer's output (h = x + LN_ao(dropout(Attn(a))), out = h + LN_mo(...)).
// The layer owns no tensors: forward reads LayerWeights (training: fp32 views of the
// parameter buffer; inference: the fp16 or INT8/INT4 linears of a model file), backward the
// LayerParams views; what forward saves for backward lives in LayerActivations,
// temporaries in a LayerScratch shared by all layers.
// Recomputation runs forward again into a scratch LayerActivations just before backward;
// both paths run the same deterministic kernels, so gradients are bit-identical.
// Rows R = B*T; shapes in the comments use B, T, h, a, d, f (B batch, T sequence, h hidden, a
// heads, d head dim, f GeGLU inner size).
//
// Tensor parallelism (ModelShard tp_size t > 1, LayerContext::tp the group): the layer holds
// a/t heads and f/t of the GeGLU inner size. QKV and W1 are column-parallel, the attention
// output and W2 row-parallel (parallel/tensor_parallel.h): one all-reduce of [R, h] after
// each row-parallel layer in forward, one per column-parallel input in backward. a, f and
// h_l = a d / t in the activation shapes below are then the local sizes.
//
// Inference runs this same forward (infer/engine.h): with a LayerCache, attention appends
// the new tokens' keys and values to the cache and attends to every cached key
// (kernels/kv_attention.h) in place of the full-sequence attention; over ranks with the
// same tensor-parallel group and all-reduces as training.
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/linear.h"
#include "kernels/stored_linear.h"
#include "modeldef/model_config.h"
#include "modeldef/param_layout.h"
#include "modeldef/precision.h"
#include "parallel/communicator.h"

namespace glm::model {

// What every layer of one micro-batch shares.
struct LayerContext {
  int B = 0, T = 0;
  const kernels::AttentionMask* mask = nullptr;
  const Tensor* positions = nullptr;  // i32 [B*T]
  bool training = false;              // dropout on
  std::uint64_t seed = 0;
  std::uint32_t step = 0;
  std::int64_t sample_offset = 0;
  parallel::Communicator* tp = nullptr;  // the tensor-parallel group (null: none)
  // How INT8/INT4 linears take their input on the CPU (inference, kernels/quant.h).
  kernels::QuantActivations activations = kernels::QuantActivations::fp32;
};

// The weights forward reads. Each linear carries its bias; for the row-parallel dense and
// W2 that is the replicated bias, added once after the partial products are summed.
struct LayerWeights {
  Tensor ln_in_w, ln_in_b, ln_post_w, ln_post_b;  // f32 [h]
  Tensor ln_attn_out_w, ln_attn_out_b, ln_mlp_out_w, ln_mlp_out_b;  // sandwich only
  kernels::LinearWeight qkv, dense, w1, w2;
  static LayerWeights of(const modeldef::LayerParams& p);  // fp32 views, no copy
  LayerWeights to(Device dev) const;
  std::int64_t bytes() const;
};

// One layer's KV cache during inference: K, V f32 [a, cap, d]; this call's n tokens go to
// cache rows [t0, t0 + n); keys below prefix_len are visible to every query.
struct LayerCache {
  Tensor* K = nullptr;
  Tensor* V = nullptr;
  int t0 = 0, prefix_len = 0;
};

// Buffers live on the model's device, in the activation dtype `act` of the precision policy
// (modeldef/precision.h), except the fp32 LayerNorm statistics. On CUDA, attention takes the flash
// path (kernels/cuda/cuda_attention.h): probs holds each query row's log-sum-exp [B, a, T] and the
// backward's scratch D_i = dctx_i . ctx_i [B, a, T], both fp32, so no T x T buffer exists.
struct LayerActivations {
  Tensor a, ln_in_mean, ln_in_rstd;      // [R, h], [R], [R]
  Tensor qkv;                            // [B, T, a, 3, d] after RoPE
  Tensor probs;                          // [B, a, T, T] before dropout (CUDA: [B, a, T])
  Tensor ctx;                            // [R, h]
  Tensor h, ln_post_mean, ln_post_rstd;  // [R, h] residual sum, [R], [R]
  Tensor m;                              // [R, h]
  Tensor u, g;                           // [R, 2f], [R, f]
  // sandwich only: each sublayer's output after dropout, the input of its output LN
  Tensor attn_out, attn_out_mean, attn_out_rstd;  // [R, h], [R], [R]
  Tensor mlp_out, mlp_out_mean, mlp_out_rstd;     // [R, h], [R], [R]
  // attention_buffer = false: no probs (inference attends to a KV cache instead).
  static LayerActivations allocate(const modeldef::ModelConfig& c,
                                   const modeldef::ModelShard& shard, int B, int T,
                                   Device dev = Device::cpu(), bool attention_buffer = true,
                                   DType act = DType::f32);
};

struct LayerScratch {
  Tensor t_h;          // [R, h] attention / MLP output before the residual
  Tensor dt_h, dm, dh; // [R, h]
  Tensor dctx, da;     // [R, h]
  Tensor dg, du;       // [R, f], [R, 2f]
  Tensor dqkv;         // [B, T, a, 3, d]
  Tensor dscores;      // [B, a, T, T] (CUDA: [B, a, T])
  static LayerScratch allocate(const modeldef::ModelConfig& c, const modeldef::ModelShard& shard,
                               int B, int T, Device dev = Device::cpu(), DType act = DType::f32);
};

class GLMLayer {
 public:
  GLMLayer(const modeldef::ModelConfig& config, const modeldef::ModelShard& shard, int layer_index);

  // out [R, h] from x [R, h]; fills acts. out may be x itself (inference) when no backward
  // follows. With a cache, attention is the KV-cache attention (R = the new tokens).
  void forward(Tensor& out, LayerActivations& acts, LayerScratch& s, const Tensor& x,
               const LayerWeights& w, const LayerContext& ctx,
               const LayerCache* cache = nullptr) const;

  // dx [R, h] (=) from dout [R, h]; parameter gradients accumulate (+=) into gw.
  void backward(Tensor& dx, LayerScratch& s, const Tensor& dout, const Tensor& x,
                const LayerActivations& acts, const modeldef::LayerParams& w,
                const modeldef::LayerParams& gw, const LayerContext& ctx) const;

  // Dropout sites of this layer (distinct Philox streams).
  std::uint32_t site(int place) const { return static_cast<std::uint32_t>(layer_ * 8 + place); }

 private:
  // forward's steps
  // a = LN_in(x)                                                       [R, h]
  void input_norm(LayerActivations& acts, const Tensor& x, const LayerWeights& w) const;
  // t = ctx Wd^T (+ bd when with_bias), ctx = Attn(a Wqkv^T + b) of this shard's heads
  void attention_output(Tensor& t, LayerActivations& acts, const LayerWeights& w,
                        const LayerContext& ctx, const LayerCache* cache, bool with_bias) const;
  // h = alpha * a + dropout(t);  m = LN_post(h)   (x the layer input)  [R, h]
  void attention_residual(LayerActivations& acts, Tensor& t, const Tensor& x,
                          const LayerWeights& w, const LayerContext& ctx) const;
  // t = g W2^T (+ b2 when with_bias), g = x1 * GELU(x2), [x1 x2] = m W1^T + b1
  void mlp_output(Tensor& t, LayerActivations& acts, const LayerWeights& w,
                  const LayerContext& ctx, bool with_bias) const;
  // out = alpha * m + dropout(t)                                        [R, h]
  void mlp_residual(Tensor& out, LayerActivations& acts, Tensor& t, const LayerWeights& w,
                    const LayerContext& ctx) const;

  kernels::AttentionArgs attention_args(const LayerContext& ctx) const;
  void hidden_dropout(Tensor& t, int place, const LayerContext& ctx) const;
  kernels::LinearOptions linear_options(const LayerContext& ctx) const;
  // A row-parallel product t (no bias yet) summed over the TP group, then the bias; with
  // no TP group the product already carries its bias.
  void finish_row_parallel(Tensor& t, const kernels::LinearWeight& W,
                           const LayerContext& ctx) const;
  // sandwich: t = LN(t), keeping its input in `in` for backward; others: nothing.
  void output_norm(Tensor& t, Tensor& in, Tensor& mean, Tensor& rstd, const Tensor& gamma,
                   const Tensor& beta) const;
  // The backward of a residual sum's LayerNorm y = LN(s) (x_ln its input s): dx from dy
  // and the gradient dres of the residual term, which joins before the LN (deepnorm,
  // post_ln: the residual reads the LN's output) or after it (pre_ln, sandwich).
  void norm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                     const Tensor& dres, const Tensor& x_ln, const Tensor& mean,
                     const Tensor& rstd, const Tensor& gamma) const;
  bool tp_split(const LayerContext& ctx) const { return ctx.tp && ctx.tp->size() > 1; }

  modeldef::ModelConfig c_;
  modeldef::ModelShard shard_;
  int heads_ = 0;         // local heads a/t
  std::int64_t h_local_ = 0;  // a/t * d
  int layer_;
  float alpha_;
};

}  // namespace glm::model
