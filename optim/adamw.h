// AdamW over a range of the flat fp32 parameter buffer (docs/design.md sections 3, 4, 5b).
//
// The optimizer owns the Adam moments m (exp_avg) and v (exp_avg_sq) for the elements
// [range.begin, range.end) of a modeldef::ParamLayout and updates an fp32 master copy of the
// same elements in place. The range is the whole layout on one rank, or one rank's
// contiguous ZeRO-1 shard; all tensors are 1-D [range.size()] in the range's local frame.
// Per element i, at step t (counted from 1; skipped steps do not count), with
// g = grad[i] * inv_scale:
//   m = beta1*m + (1-beta1)*g
//   v = beta2*v + (1-beta2)*g^2
//   p = p - lr*wd_i*p                                      (decoupled weight decay)
//   p = p - lr * (m / (1-beta1^t)) / (sqrt(v / (1-beta2^t)) + eps)
// wd_i = weight_decay when element i belongs to a ParamKind::matrix parameter (or to the
// embedding when decay_embedding), else 0 (biases, LayerNorms, alignment padding).
// This is PyTorch's torch.optim.AdamW and apex FusedAdam(adam_w_mode) math.
//
// The update is one fused pass per element (read g, m, v, p; write m, v, p: 28 bytes,
// memory-bound): the op kernels/adamw.h, on the master's device. Deterministic: no
// reductions and no FMA contraction, so a sub-range update is bit-identical to the full
// update restricted to it (what ZeRO-1 layout equivalence needs), and a CUDA master's update
// to the CPU's.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/optim_config.h"
#include "core/tensor.h"
#include "kernels/adamw.h"
#include "modeldef/param_layout.h"
#include "modeldef/param_range.h"

namespace glm::optim {

struct AdamWConfig {
  double lr = 0.0;  // set per step (step() records the value it was given)
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  bool decay_embedding = false;
};

// Whether AdamW applies weight decay to a parameter of this kind.
// The run config's AdamW settings (lr left at 0: the schedule sets it per step).
AdamWConfig adamw_config(const config::OptimConfig& c);

bool decays(modeldef::ParamKind kind, const AdamWConfig& config);

// The check AdamW applies to its master (at construction) and to every gradient: contiguous
// f32 with n elements, on `device` (the master's: the CPU, or a CUDA device in a CUDA
// build). Throws glm::Error naming `what`, the tensor and the device.
void check_range_tensor(const char* what, const Tensor& t, std::int64_t n, Device device);

class AdamW {
 public:
  // master: f32 [range.size()] (any shape with that many contiguous elements), updated in
  // place. The Tensor is kept (storage shared): pass the model's own fp32 buffer (fp32,
  // no ZeRO: no copy) or a clone to keep a separate master copy (fp16, ZeRO shards).
  // m and v start at zero, step() at 0.
  AdamW(std::shared_ptr<const modeldef::ParamLayout> layout, AdamWConfig config,
        modeldef::ElementRange range, Tensor master);
  // The whole layout.
  AdamW(std::shared_ptr<const modeldef::ParamLayout> layout, AdamWConfig config, Tensor master);

  // One update with the gradient of this range (f32, range.size() elements, on the master's
  // device). The fused pass multiplies the gradient by inv_scale (1/loss_scale, optionally
  // times the clip coefficient) so no separate unscale pass is needed, and, given a 16-bit
  // `params` of range.size() elements, writes the updated master rounded into it in the same
  // pass (kernels/adamw.h). Increments step() first.
  void step(const Tensor& grad, double lr, float inv_scale = 1.f, Tensor* params = nullptr);

  // State for checkpoints: all f32 [range.size()], writable (a loader copies into them).
  Tensor& master() { return master_; }
  Tensor& exp_avg() { return m_; }
  Tensor& exp_avg_sq() { return v_; }
  const Tensor& master() const { return master_; }
  const Tensor& exp_avg() const { return m_; }
  const Tensor& exp_avg_sq() const { return v_; }
  std::int64_t step_count() const { return step_; }  // completed (non-skipped) updates
  void set_step_count(std::int64_t t);               // on checkpoint load

  const AdamWConfig& config() const { return config_; }
  modeldef::ElementRange range() const { return range_; }
  const modeldef::ParamLayout& layout() const { return *layout_; }

 private:
  void build_segments();

  std::shared_ptr<const modeldef::ParamLayout> layout_;
  AdamWConfig config_;
  modeldef::ElementRange range_;
  Tensor master_, m_, v_;
  std::int64_t step_ = 0;
  std::vector<kernels::AdamWSegment> segments_;  // runs with one weight-decay decision
  std::shared_ptr<kernels::AdamWUpdate> update_;  // the op over them, rebuilt with them
};

}  // namespace glm::optim
