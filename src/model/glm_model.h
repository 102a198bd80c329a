// The GLM model (or the part of it one rank holds): embedding with gradient shrink, a range
// of GLMLayers, final LayerNorm and the tied output head with the loss on target positions.
//
// Parameters and gradients are each one flat buffer over a ParamLayout (gradients
// accumulate across micro-batches until zero_grads()). Gradients are fp32; the parameters
// are stored in the precision's dtype (modeldef/precision.h): an fp16 or bf16 buffer in the
// 16-bit precisions (the trainer's fp32 master weights live in the optimizer, which writes
// the rounded values here after each update). Activations and activation gradients are
// stored as fp16 or bf16 tensors too; the ops compute in fp32 inside.
//
// Usage (one micro-batch):
//   GLMModel m(config, {.precision = Precision::fp32, .seed = 1});
//   m.init();
//   LossStats s = m.forward_backward(batch, {.loss_scale = 1, .num_targets = n});
//   // m.grads() now holds d(sum of target losses / n * loss_scale) / d(params)
//
// Parallel use (docs/design.md section 4): options.shard says which layers (a pipeline stage)
// and which tensor-parallel slice this rank holds, options.tp is its TP group. A pipeline
// stage runs micro-batches through numbered activation slots, so the 1F1B schedule
// (parallel/pipeline_schedule.h) can keep several in flight:
//   stage_input(slot, B, T)  <- receive the previous stage's output here (not on stage 0)
//   stage_forward(b, opt, slot)            loss on the last stage, else stage_output(slot)
//   stage_output_grad(slot)  <- receive the next stage's input gradient (not on the last)
//   stage_backward(b, opt, slot)           returns d(stage input) to send back (not stage 0)
// forward_backward / forward_loss are that sequence on slot 0 for a single stage.
// Tensors the stage API hands out (stage_input, stage_output, ...) live on options.device.
//
// Serving (infer/engine.h) builds the same model over StoredWeights, a model file's weights
// as stored (fp16 or INT8/INT4 linears), without parameter buffers, and runs
// forward_cached: the same embedding, layers (attending to a KV cache) and tied head, with
// the same tensor-parallel group and all-reduces as training.
//   GLMModel m(config, {.shard = shard, .tp = tp, .device = dev}, std::move(stored));
//   Tensor logits = m.forward_cached(tokens, positions, caches, rows, activations);
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/glm_layer.h"
#include "modeldef/batch.h"
#include "modeldef/param_layout.h"

namespace glm::model {

enum class Recompute { none, full };

struct ModelOptions {
  modeldef::Precision precision = modeldef::Precision::fp32;
  Recompute recompute = Recompute::none;
  std::uint64_t seed = modeldef::kDefaultSeed;  // init and dropout keys
  modeldef::ModelShard shard = {};
  parallel::Communicator* tp = nullptr;  // the TP group when shard.tp_size > 1
  // Where parameters, gradients and activations live. Batches arrive on the host and are
  // copied to the device per micro-batch; the loss comes back to the host. On CUDA the TP
  // group must take device buffers (parallel/nccl_communicator.h).
  Device device = Device::cpu();
  // Elements the parameter and gradient buffers allocate (0: the layout's total), the tail
  // zero: the ZeRO-1 plan's padded size (parallel::ShardPlan), so the optimizer reduce-
  // scatters the gradients and gathers the parameters in place, without a padded copy.
  std::int64_t flat_capacity = 0;
};

struct StepOptions {
  float loss_scale = 1.f;         // multiplies the gradients (dynamic loss scaling)
  std::int64_t num_targets = 0;   // loss denominator: targets in the global batch; 0 = this batch's
  std::uint32_t step = 0;         // dropout masks change every step
  bool training = true;           // dropout on
  // Called with the global layer index right after each layer's backward (the trainer sets
  // it for a step's last backward, when each layer's gradient is final as soon as its
  // backward returns, to start that layer's data-parallel all-reduce).
  std::function<void(int layer)> on_layer_grads = nullptr;
  // EGS alpha_e of this step, when it follows a schedule or a resume override (docs/design.md
  // section 2); unset: the config's model.embedding_grad_shrink.
  std::optional<float> embedding_grad_shrink;
};

// A model file's weights as the serving forward reads them (infer/model_file.h): the
// linears as stored, on the model's device, except the embedding table, which stays in host
// memory where its rows are looked up (one row per token: no device copy of a [V, h] table
// is widened per call).
struct StoredWeights {
  Tensor embedding;                  // f16 [V_held, h], host: the vocabulary rows held
  std::int64_t vocab_begin = 0;      // the first of them (vocabulary-parallel over ranks)
  kernels::LinearWeight head;        // the same rows on the model's device: the tied head
  Tensor final_ln_w, final_ln_b;     // f32 [h], on the device
  std::vector<LayerWeights> layers;  // [the shard's layers], on the device
};

struct LossStats {
  double loss_sum = 0;            // sum of target-token losses (natural log)
  std::int64_t num_targets = 0;   // target tokens in this micro-batch
};

class GLMModel {
 public:
  GLMModel(const modeldef::ModelConfig& config, const ModelOptions& options);
  // Serving: over stored weights, without parameter or gradient buffers (the training API
  // refuses to run; layout() is not defined). The shard must hold every layer.
  GLMModel(const modeldef::ModelConfig& config, const ModelOptions& options, StoredWeights weights);
  ~GLMModel();
  GLMModel(GLMModel&&) noexcept;
  GLMModel& operator=(GLMModel&&) noexcept;

  void init();  // DeepNorm init from options.seed (rounded to the 16-bit type in fp16 / bf16)
  // The parameters from `values` ([layout().total()] elements, f32, f16 or bf16, any device),
  // rounded to the parameter dtype.
  void set_params(const Tensor& values);

  // Forward and backward of one micro-batch; gradients accumulate into grads().
  // (A model that is one whole pipeline stage: embedding, layers and head.)
  LossStats forward_backward(const modeldef::Batch& batch, const StepOptions& opt);
  // Forward only (no dropout): loss on target positions.
  LossStats forward_loss(const modeldef::Batch& batch);
  // Forward only: logits at every position, [B*T, V] (whole model, no tensor parallelism),
  // on the host.
  Tensor forward_logits(const modeldef::Batch& batch);

  // Serving forward with a KV cache (a model over StoredWeights): the n tokens (host i32
  // [n]; RoPE positions i32 [n] on the device) through the embedding and every layer, layer
  // l attending to and appending to caches[l]; then for the rows `rows` (i32 [nr] on the
  // device) LN_final and the tied head. Returns this rank's logits [nr, V_held] f32 on the
  // device (its vocabulary rows; the caller gathers them over ranks).
  Tensor forward_cached(const Tensor& tokens, const Tensor& positions,
                        std::span<const LayerCache> caches, const Tensor& rows,
                        kernels::QuantActivations activations);

  // --- pipeline stage API (see the header comment) ---
  bool first_stage() const { return options_.shard.has_embedding; }
  bool last_stage() const { return options_.shard.has_head; }
  // Where the previous stage's output [B*T, h] for `slot` is received (not on stage 0).
  Tensor& stage_input(int slot, int B, int T);
  // Forward of this stage for one micro-batch. The last stage returns the loss (and, with
  // backward, keeps d(loss)/d(logits) for stage_backward); other stages return {} and leave
  // their output in stage_output(slot). backward = false: evaluation, no stage_backward.
  LossStats stage_forward(const modeldef::Batch& batch, const StepOptions& opt, int slot,
                          bool backward = true);
  const Tensor& stage_output(int slot) const;
  // Where the next stage's gradient of this stage's output is received (not on the last).
  Tensor& stage_output_grad(int slot);
  // Backward of the micro-batch held in `slot` (same batch and options as its forward);
  // gradients accumulate into grads(). Returns d(stage input) (empty on stage 0), valid
  // until the slot is used again.
  const Tensor& stage_backward(const modeldef::Batch& batch, const StepOptions& opt, int slot);

  void zero_grads() { grads_.flat().zero_(); }

  // Non-finite provenance (glm-train --debug-nonfinite): when on, every forward activation,
  // activation gradient and parameter gradient is checked as it is produced, and the first
  // non-finite one since the last clear is named ("activation gradient: input of layer 3").
  // Off by default: each check is a pass over the tensor.
  void set_find_nonfinite(bool on) { find_nonfinite_ = on; }
  // Training health: the largest attention logit (model/attention_logits.h) of the model's
  // first and last layer over the forwards since tracking was last switched on (kept after it
  // is switched off); -inf where this shard holds neither. The trainer switches it on for
  // logged steps only.
  void set_track_attention_logits(bool on);
  std::array<double, 2> max_attention_logits() const { return max_logit_; }
  void clear_nonfinite() { first_nonfinite_.clear(); }
  const std::string& first_nonfinite() const { return first_nonfinite_; }

  modeldef::FlatParams& params() { return params_; }
  modeldef::FlatParams& grads() { return grads_; }
  const modeldef::ParamLayout& layout() const { return *layout_; }
  const modeldef::ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }

 private:
  struct Workspace;  // one micro-batch's activations, sized for one (B, T)
  Workspace& slot(int i, int B, int T);
  // The layers' context over the slot's uploaded batch (ws.batch).
  LayerContext make_context(Workspace& ws, bool training, std::uint32_t step);
  // Embedding (stage 0) and this stage's layers: x_N in ws.x.back(), [R, h].
  void forward_layers(Workspace& ws, const LayerContext& ctx);
  // Loss of the target rows through final LN and the (vocab-parallel) head; with
  // grad_scale > 0 the rows' d(loss)/d(logits) stays in ws.head_logits.
  LossStats head_loss(Workspace& ws, const modeldef::Batch& batch, float grad_scale,
                      bool write_grad);
  // The micro-batch's index tensors on the model's device (the batch itself on CUDA).
  void upload_batch(Workspace& ws, const modeldef::Batch& b);
  Tensor f32(Shape s) const { return Tensor::empty(std::move(s), DType::f32, options_.device); }
  // dlogits -> dE (tied head) and d(x_N) through LN_final, into ws.dx_b
  Tensor& head_backward(Workspace& ws);
  // From d(x_N) back through the layers and (stage 0) the embedding; returns d(stage input).
  Tensor& backward_layers(Workspace& ws, const LayerContext& ctx, Tensor& dx,
                          const StepOptions& opt);
  // x0 = E[tokens] over this rank's vocabulary rows, summed over the TP group (exact: one
  // rank holds each token's row). The lookup runs where the table is: a serving table in
  // host memory is read there (tokens on the host) and the rows are copied to x's device.
  void embed(Tensor& x, const Tensor& tokens);
  // Layer l's weights: views of the parameter buffer, or the stored ones.
  LayerWeights layer_weights(int l) const;
  const Tensor& final_ln_w() const { return stored_ ? stored_->final_ln_w : params_.final_ln_w(); }
  const Tensor& final_ln_b() const { return stored_ ? stored_->final_ln_b : params_.final_ln_b(); }
  // logits for the chosen rows of y, [rows, V_local]
  void head_forward(Tensor& logits, const Tensor& y_rows);
  Tensor stored(Shape s) const;  // an activation buffer in the precision's dtype
  void check_finite(const Tensor& t, const char* kind, const std::string& where);

  bool find_nonfinite_ = false;
  bool track_logits_ = false;
  std::array<double, 2> max_logit_{};
  std::string first_nonfinite_;

  modeldef::ModelConfig config_;
  ModelOptions options_;
  std::shared_ptr<const modeldef::ParamLayout> layout_;
  modeldef::FlatParams params_, grads_;
  std::unique_ptr<StoredWeights> stored_;  // serving: the weights as a model file stores them
  std::vector<GLMLayer> layers_;
  std::vector<std::unique_ptr<Workspace>> slots_;
  LayerScratch scratch_;  // shared by every slot: used only inside one layer's pass
  int scratch_B_ = 0, scratch_T_ = 0;
};

}  // namespace glm::model
