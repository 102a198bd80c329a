#include "model/glm_layer.h"

#include <cmath>

#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/geglu.h"
#include "kernels/kv_attention.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "kernels/rope.h"
#include "parallel/tensor_parallel.h"

namespace glm::model {

namespace k = glm::kernels;

namespace {
enum Place { kAttnProbs = 0, kAttnOut = 1, kMlpOut = 2 };

// The attention's per-(sample, head) buffer: [B, a, T, T] probabilities on the CPU, [B, a, T]
// row statistics on CUDA (the flash path).
Shape attention_buffer_shape(Device dev, std::int64_t B, std::int64_t a, std::int64_t T) {
  return dev.is_cuda() ? Shape{B, a, T} : Shape{B, a, T, T};
}
}  // namespace

LayerWeights LayerWeights::of(const modeldef::LayerParams& p) {
  LayerWeights w;
  w.ln_in_w = p.ln_in_w;
  w.ln_in_b = p.ln_in_b;
  w.ln_post_w = p.ln_post_w;
  w.ln_post_b = p.ln_post_b;
  w.ln_attn_out_w = p.ln_attn_out_w;
  w.ln_attn_out_b = p.ln_attn_out_b;
  w.ln_mlp_out_w = p.ln_mlp_out_w;
  w.ln_mlp_out_b = p.ln_mlp_out_b;
  w.qkv = k::LinearWeight::of(p.qkv_w, p.qkv_b);
  w.dense = k::LinearWeight::of(p.dense_w, p.dense_b);
  w.w1 = k::LinearWeight::of(p.w1, p.b1);
  w.w2 = k::LinearWeight::of(p.w2, p.b2);
  return w;
}

LayerWeights LayerWeights::to(Device dev) const {
  LayerWeights w;
  w.ln_in_w = ln_in_w.to(dev);
  w.ln_in_b = ln_in_b.to(dev);
  w.ln_post_w = ln_post_w.to(dev);
  w.ln_post_b = ln_post_b.to(dev);
  for (auto [to, from] : {std::pair{&w.ln_attn_out_w, &ln_attn_out_w}, {&w.ln_attn_out_b, &ln_attn_out_b},
                          {&w.ln_mlp_out_w, &ln_mlp_out_w}, {&w.ln_mlp_out_b, &ln_mlp_out_b}})
    if (from->defined()) *to = from->to(dev);
  w.qkv = qkv.to(dev);
  w.dense = dense.to(dev);
  w.w1 = w1.to(dev);
  w.w2 = w2.to(dev);
  return w;
}

std::int64_t LayerWeights::bytes() const {
  const int norms = ln_attn_out_w.defined() ? 8 : 4;
  return static_cast<std::int64_t>(norms * ln_in_w.nbytes()) + qkv.bytes() + dense.bytes() +
         w1.bytes() + w2.bytes();
}

LayerActivations LayerActivations::allocate(const modeldef::ModelConfig& c,
                                            const modeldef::ModelShard& shard, int B, int T,
                                            Device dev, bool attention_buffer, DType act) {
  auto f32 = [dev](Shape s) { return Tensor::empty(std::move(s), DType::f32, dev); };
  auto stored = [dev, act](Shape s) { return Tensor::empty(std::move(s), act, dev); };
  const DType probs_type = dev.is_cuda() ? DType::f32 : act;  // CUDA: softmax statistics
  const std::int64_t R = std::int64_t{B} * T, h = c.hidden_size, f = shard.local_ffn(c);
  const std::int64_t a = shard.local_heads(c), d = c.head_dim();
  LayerActivations x;
  x.a = stored({R, h});
  x.ln_in_mean = f32({R});
  x.ln_in_rstd = f32({R});
  x.qkv = stored({B, T, a, 3, d});
  if (attention_buffer)
    x.probs = Tensor::empty(attention_buffer_shape(dev, B, a, T), probs_type, dev);
  x.ctx = stored({R, a * d});
  x.h = stored({R, h});
  x.ln_post_mean = f32({R});
  x.ln_post_rstd = f32({R});
  x.m = stored({R, h});
  x.u = stored({R, 2 * f});
  x.g = stored({R, f});
  if (c.has_sublayer_output_norms()) {
    x.attn_out = stored({R, h});
    x.attn_out_mean = f32({R});
    x.attn_out_rstd = f32({R});
    x.mlp_out = stored({R, h});
    x.mlp_out_mean = f32({R});
    x.mlp_out_rstd = f32({R});
  }
  return x;
}

LayerScratch LayerScratch::allocate(const modeldef::ModelConfig& c,
                                    const modeldef::ModelShard& shard, int B, int T, Device dev,
                                    DType act) {
  auto stored = [dev, act](Shape s) { return Tensor::empty(std::move(s), act, dev); };
  const std::int64_t R = std::int64_t{B} * T, h = c.hidden_size, f = shard.local_ffn(c);
  const std::int64_t a = shard.local_heads(c), d = c.head_dim();
  LayerScratch s;
  s.t_h = stored({R, h});
  s.dt_h = stored({R, h});
  s.dm = stored({R, h});
  s.dh = stored({R, h});
  s.dctx = stored({R, a * d});
  s.da = stored({R, h});
  s.dg = stored({R, f});
  s.du = stored({R, 2 * f});
  s.dqkv = stored({B, T, a, 3, d});
  s.dscores = Tensor::empty(attention_buffer_shape(dev, B, a, T),
                            dev.is_cuda() ? DType::f32 : act, dev);
  return s;
}

GLMLayer::GLMLayer(const modeldef::ModelConfig& config, const modeldef::ModelShard& shard,
                   int layer_index)
    : c_(config),
      shard_(shard),
      heads_(shard.local_heads(config)),
      h_local_(std::int64_t{shard.local_heads(config)} * config.head_dim()),
      layer_(layer_index),
      alpha_(static_cast<float>(config.residual_alpha())) {}

k::AttentionArgs GLMLayer::attention_args(const LayerContext& ctx) const {
  k::AttentionArgs args;
  args.heads = heads_;
  args.head_dim = c_.head_dim();
  args.layer_number = layer_ + 1;  // query-key layer scaling c = l + 1
  args.dropout_p = ctx.training ? static_cast<float>(c_.attention_dropout) : 0.f;
  // masks keyed by the global head index, so a TP cut drops what one process drops
  args.dropout = {ctx.seed,           ctx.step,     site(kAttnProbs),
                  ctx.sample_offset,  c_.num_heads, std::int64_t{shard_.tp_rank} * heads_};
  return args;
}

// Hidden-state dropout on a [R, h] tensor viewed as [B, T, h]; also its own backward.
void GLMLayer::hidden_dropout(Tensor& t, int place, const LayerContext& ctx) const {
  if (!ctx.training || c_.hidden_dropout == 0) return;
  Tensor v = t.view({ctx.B, ctx.T, c_.hidden_size});
  k::DropoutSite s{ctx.seed, ctx.step, site(place), ctx.sample_offset, 1, 0};
  k::dropout_apply(v, static_cast<float>(c_.hidden_dropout), s, 1);
}

k::LinearOptions GLMLayer::linear_options(const LayerContext& ctx) const {
  return {.activations = ctx.activations};
}

void GLMLayer::finish_row_parallel(Tensor& t, const k::LinearWeight& W,
                                   const LayerContext& ctx) const {
  if (!tp_split(ctx)) return;  // the product carries the bias
  parallel::reduce_from_tp(ctx.tp, t);
  k::add_bias(t, W.bias);
}

void GLMLayer::forward(Tensor& out, LayerActivations& acts, LayerScratch& s, const Tensor& x,
                       const LayerWeights& w, const LayerContext& ctx,
                       const LayerCache* cache) const {
  const bool whole = !tp_split(ctx);  // no TP: each row-parallel product takes its bias
  input_norm(acts, x, w);
  attention_output(s.t_h, acts, w, ctx, cache, whole);
  finish_row_parallel(s.t_h, w.dense, ctx);
  attention_residual(acts, s.t_h, x, w, ctx);
  mlp_output(s.t_h, acts, w, ctx, whole);
  finish_row_parallel(s.t_h, w.w2, ctx);
  mlp_residual(out, acts, s.t_h, w, ctx);
}

void GLMLayer::input_norm(LayerActivations& acts, const Tensor& x, const LayerWeights& w) const {
  // a = LN_in(x)                                                     [R, h]
  k::layernorm_forward(acts.a, acts.ln_in_mean, acts.ln_in_rstd, x, w.ln_in_w, w.ln_in_b,
                       static_cast<float>(c_.layernorm_epsilon));
}

void GLMLayer::attention_output(Tensor& t, LayerActivations& acts, const LayerWeights& w,
                                const LayerContext& ctx, const LayerCache* cache,
                                bool with_bias) const {
  const std::int64_t R = acts.a.size(0);
  // qkv = a Wqkv^T + b, then RoPE on q and k                          [B, T, a, 3, d]
  Tensor qkv_rows = acts.qkv.view({R, 3 * h_local_});
  k::stored_linear_forward(qkv_rows, acts.a, w.qkv, true, linear_options(ctx));  // local heads
  Tensor qkv_heads = acts.qkv.view({R, heads_, 3, c_.head_dim()});
  k::rope_forward(qkv_heads, *ctx.positions, static_cast<float>(c_.rope_base));

  // ctx = softmax(mask(q k^T / sqrt(d))) v                           [R, h]
  if (cache) {  // the new tokens attend to the cache (after appending their keys and values)
    k::kv_attention_forward(acts.ctx, qkv_heads, *cache->K, *cache->V, cache->t0,
                            cache->prefix_len, layer_ + 1);
  } else {
    Tensor ctx_rows = acts.ctx.view({ctx.B, ctx.T, h_local_});
    k::attention_forward(ctx_rows, acts.probs, acts.qkv, *ctx.mask, attention_args(ctx));
  }

  // t = ctx Wd^T (row-parallel: this shard's partial product)        [R, h]
  k::stored_linear_forward(t, acts.ctx, w.dense, with_bias, linear_options(ctx));
}

void GLMLayer::output_norm(Tensor& t, Tensor& in, Tensor& mean, Tensor& rstd,
                           const Tensor& gamma, const Tensor& beta) const {
  if (!c_.has_sublayer_output_norms()) return;
  in.copy_from(t);
  k::layernorm_forward(t, mean, rstd, in, gamma, beta, static_cast<float>(c_.layernorm_epsilon));
}

void GLMLayer::attention_residual(LayerActivations& acts, Tensor& t, const Tensor& x,
                                  const LayerWeights& w, const LayerContext& ctx) const {
  // deepnorm / post_ln:  h = alpha * a + dropout(t)
  // pre_ln:              h = x + dropout(t)
  // sandwich:            h = x + LN_ao(dropout(t));     then m = LN_post(h)   [R, h]
  hidden_dropout(t, kAttnOut, ctx);
  output_norm(t, acts.attn_out, acts.attn_out_mean, acts.attn_out_rstd, w.ln_attn_out_w,
              w.ln_attn_out_b);
  const Tensor& stream = c_.residual_from_input() ? x : acts.a;
  k::residual_layernorm_forward(acts.h, acts.m, acts.ln_post_mean, acts.ln_post_rstd, stream, t,
                                alpha_, w.ln_post_w, w.ln_post_b,
                                static_cast<float>(c_.layernorm_epsilon));
}

void GLMLayer::mlp_output(Tensor& t, LayerActivations& acts, const LayerWeights& w,
                          const LayerContext& ctx, bool with_bias) const {
  // u = m W1^T + b1;  g = x1 * GELU(x2)                               [R, 2f], [R, f]
  k::stored_linear_forward(acts.u, acts.m, w.w1, true, linear_options(ctx));
  k::geglu_forward(acts.g, acts.u);
  // t = g W2^T (row-parallel: this shard's partial product)           [R, h]
  k::stored_linear_forward(t, acts.g, w.w2, with_bias, linear_options(ctx));
}

void GLMLayer::mlp_residual(Tensor& out, LayerActivations& acts, Tensor& t,
                            const LayerWeights& w, const LayerContext& ctx) const {
  // deepnorm / post_ln:  out = alpha * m + dropout(t)
  // pre_ln:              out = h + dropout(t)
  // sandwich:            out = h + LN_mo(dropout(t))                  [R, h]
  hidden_dropout(t, kMlpOut, ctx);
  output_norm(t, acts.mlp_out, acts.mlp_out_mean, acts.mlp_out_rstd, w.ln_mlp_out_w,
              w.ln_mlp_out_b);
  k::scaled_add(out, alpha_, c_.residual_from_input() ? acts.h : acts.m, t);
}

void GLMLayer::norm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                             const Tensor& dres, const Tensor& x_ln, const Tensor& mean,
                             const Tensor& rstd, const Tensor& gamma) const {
  if (!c_.residual_from_input())  // the residual read LN's output: its gradient joins dy
    return k::layernorm_backward(dx, dgamma, dbeta, dy, &dres, alpha_, x_ln, mean, rstd, gamma);
  k::layernorm_backward(dx, dgamma, dbeta, dy, nullptr, 0.f, x_ln, mean, rstd, gamma);
  k::scaled_add(dx, alpha_, dres, dx);  // the residual read LN's input
}

void GLMLayer::backward(Tensor& dx, LayerScratch& s, const Tensor& dout, const Tensor& x,
                        const LayerActivations& acts, const modeldef::LayerParams& w,
                        const modeldef::LayerParams& gw, const LayerContext& ctx) const {
  const std::int64_t R = std::int64_t{ctx.B} * ctx.T;
  modeldef::LayerParams g = gw;  // views into the gradient buffer (accumulated into)

  // --- out = alpha*m + dropout(MLP(m))  (pre_ln, sandwich: h + ...) ---
  // d(MLP output) = dropout(dout) (same mask), through LN_mo first under sandwich; the
  // residual term's gradient joins at LN_post below.
  if (c_.has_sublayer_output_norms())
    k::layernorm_backward(s.dt_h, g.ln_mlp_out_w, g.ln_mlp_out_b, dout, nullptr, 0.f,
                          acts.mlp_out, acts.mlp_out_mean, acts.mlp_out_rstd, w.ln_mlp_out_w);
  else
    s.dt_h.copy_from(dout);
  hidden_dropout(s.dt_h, kMlpOut, ctx);
  // W2: dg = dt W2, dW2 += dt^T g, db2 += sum dt
  k::linear_backward(&s.dg, g.w2, &g.b2, s.dt_h, acts.g, w.w2, false);
  k::geglu_backward(s.du, s.dg, acts.u);
  // W1: dm = du W1, dW1 += du^T m (column-parallel: dm summed over the TP group)
  k::linear_backward(&s.dm, g.w1, &g.b1, s.du, acts.m, w.w1, false);
  parallel::copy_to_tp_backward(ctx.tp, s.dm);

  // --- m = LN_post(h): with dout's residual term (alpha * dout into m, or dout into h) ---
  norm_backward(s.dh, g.ln_post_w, g.ln_post_b, s.dm, dout, acts.h, acts.ln_post_mean,
                acts.ln_post_rstd, w.ln_post_w);

  // --- h = alpha*a + dropout(Attn(a))  (pre_ln: x + ...; sandwich: x + LN_ao(...)) ---
  if (c_.has_sublayer_output_norms())
    k::layernorm_backward(s.dt_h, g.ln_attn_out_w, g.ln_attn_out_b, s.dh, nullptr, 0.f,
                          acts.attn_out, acts.attn_out_mean, acts.attn_out_rstd,
                          w.ln_attn_out_w);
  else
    s.dt_h.copy_from(s.dh);
  hidden_dropout(s.dt_h, kAttnOut, ctx);
  k::linear_backward(&s.dctx, g.dense_w, &g.dense_b, s.dt_h, acts.ctx, w.dense_w, false);
  Tensor dctx_rows = s.dctx.view({ctx.B, ctx.T, h_local_});
  k::attention_backward(s.dqkv, s.dscores, dctx_rows, acts.probs, acts.qkv, *ctx.mask,
                        attention_args(ctx));
  Tensor dqkv_heads = s.dqkv.view({R, heads_, 3, c_.head_dim()});
  k::rope_backward(dqkv_heads, *ctx.positions, static_cast<float>(c_.rope_base));
  Tensor dqkv_rows = s.dqkv.view({R, 3 * h_local_});
  // Wqkv: da = dqkv Wqkv, dWqkv += dqkv^T a (column-parallel: da summed over the TP group)
  k::linear_backward(&s.da, g.qkv_w, &g.qkv_b, dqkv_rows, acts.a, w.qkv_w, false);
  parallel::copy_to_tp_backward(ctx.tp, s.da);

  // --- a = LN_in(x): with dh's residual term (alpha * dh into a, or dh into x) ---
  norm_backward(dx, g.ln_in_w, g.ln_in_b, s.da, s.dh, x, acts.ln_in_mean, acts.ln_in_rstd,
                w.ln_in_w);
}

}  // namespace glm::model
