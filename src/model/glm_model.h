// The GLM model (or the part of it one rank holds): embedding with gradient shrink, a range
// of GLMLayers, final LayerNorm and the tied output head with the loss on target positions.
//
// Parameters and gradients are each one flat fp32 buffer over a ParamLayout (gradients
// accumulate across micro-batches until zero_grads()). In fp16 mode the parameters hold
// fp16-representable values (the trainer's fp32 master weights live in the optimizer) and
// activations and activation gradients are rounded to fp16 where a GPU would store them.
//
// Usage (one micro-batch):
//   GLMModel m(config, {.precision = Precision::fp32, .seed = 1});
//   m.init();
//   LossStats s = m.forward_backward(batch, {.loss_scale = 1, .num_targets = n});
//   // m.grads() now holds d(sum of target losses / n * loss_scale) / d(params)
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/batch.h"
#include "model/glm_layer.h"
#include "model/param_layout.h"

namespace glm::model {

enum class Recompute { none, full };

struct ModelOptions {
  Precision precision = Precision::fp32;
  Recompute recompute = Recompute::none;
  std::uint64_t seed = 1234;  // init and dropout keys
  ModelShard shard = {};
};

struct StepOptions {
  float loss_scale = 1.f;         // multiplies the gradients (dynamic loss scaling)
  std::int64_t num_targets = 0;   // loss denominator: targets in the global batch; 0 = this batch's
  std::uint32_t step = 0;         // dropout masks change every step
  bool training = true;           // dropout on
};

struct LossStats {
  double loss_sum = 0;            // sum of target-token losses (natural log)
  std::int64_t num_targets = 0;   // target tokens in this micro-batch
};

class GLMModel {
 public:
  GLMModel(const ModelConfig& config, const ModelOptions& options);
  ~GLMModel();
  GLMModel(GLMModel&&) noexcept;
  GLMModel& operator=(GLMModel&&) noexcept;

  void init();  // DeepNorm init from options.seed (rounded to fp16 in fp16 mode)
  // After writing parameters directly: make them fp16-representable in fp16 mode.
  void round_params_to_precision();

  // Forward and backward of one micro-batch; gradients accumulate into grads().
  LossStats forward_backward(const Batch& batch, const StepOptions& opt);
  // Forward only (no dropout): loss on target positions.
  LossStats forward_loss(const Batch& batch);
  // Forward only: logits at every position, [B*T, V].
  Tensor forward_logits(const Batch& batch);

  void zero_grads() { grads_.flat().zero_(); }
  // EGS alpha_e may follow a schedule or be overridden on resume (DESIGN.md section 2).
  void set_embedding_grad_shrink(double alpha) { config_.embedding_grad_shrink = alpha; }

  FlatParams& params() { return params_; }
  FlatParams& grads() { return grads_; }
  const ParamLayout& layout() const { return *layout_; }
  const ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }

 private:
  struct Workspace;  // activations sized for one (B, T)
  Workspace& workspace(int B, int T);
  LayerContext make_context(const Batch& b, bool training, std::uint32_t step);
  // Embedding and layers: returns the final hidden state LN_final(x_N), [R, h].
  const Tensor& forward_trunk(const Batch& batch, const LayerContext& ctx);
  void backward_trunk(const Batch& batch, const LayerContext& ctx, Tensor& dy);
  // logits for the chosen rows of y, [rows, V]
  void head_forward(Tensor& logits, const Tensor& y_rows);
  void store(Tensor& t) const;

  ModelConfig config_;
  ModelOptions options_;
  std::shared_ptr<const ParamLayout> layout_;
  FlatParams params_, grads_;
  std::vector<GLMLayer> layers_;
  std::unique_ptr<Workspace> ws_;
};

}  // namespace glm::model
