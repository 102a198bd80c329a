// AdamW's fused update (optim/adamw.h). The plain double-precision reference it is tested
// against lives in tests/unit/test_optim_adamw.cpp.
#include "optim/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/allocator.h"
#include "core/error.h"
#include "kernels/adamw.h"

namespace glm::optim {

AdamWConfig adamw_config(const config::OptimConfig& o) {
  AdamWConfig c;
  c.beta1 = o.beta1;
  c.beta2 = o.beta2;
  c.eps = o.eps;
  c.weight_decay = o.weight_decay;
  c.decay_embedding = o.decay_embedding;
  return c;
}

void check_range_tensor(const char* what, const Tensor& t, std::int64_t n, Device device) {
  GLM_CHECK(t.dtype() == DType::f32 && t.is_contiguous() && t.numel() == n,
            "AdamW: {} must be contiguous f32 with {} elements (the range), got {}", what, n,
            t.describe());
  GLM_CHECK(t.device() == device, "AdamW: {} is {}, but the master weights are on {}", what,
            t.describe(), device_name(device));
#ifndef GLM_WITH_CUDA
  GLM_CHECK(device.is_cpu(), "AdamW: {} is {}: this build has no CUDA backend", what,
            t.describe());
#endif
}

bool decays(modeldef::ParamKind kind, const AdamWConfig& config) {
  return kind == modeldef::ParamKind::matrix ||
         (kind == modeldef::ParamKind::embedding && config.decay_embedding);
}

AdamW::AdamW(std::shared_ptr<const modeldef::ParamLayout> layout, AdamWConfig config,
             modeldef::ElementRange range, Tensor master)
    : layout_(std::move(layout)), config_(config), range_(range), master_(std::move(master)) {
  GLM_CHECK(layout_ != nullptr, "AdamW: no parameter layout");
  // The master's device is where the update runs (the CPU loop or the CUDA kernel).
  check_range_tensor("master", master_, range_.size(), master_.device());
  const MemoryScope scope(MemoryKind::optimizer_state);
  m_ = Tensor::zeros({range_.size()}, DType::f32, master_.device());
  v_ = Tensor::zeros({range_.size()}, DType::f32, master_.device());
  build_segments();
}

AdamW::AdamW(std::shared_ptr<const modeldef::ParamLayout> layout, AdamWConfig config, Tensor master)
    : AdamW(layout, config, modeldef::full_range(*layout), std::move(master)) {}

void AdamW::set_step_count(std::int64_t t) {
  GLM_CHECK(t >= 0, "AdamW: step count {} is negative", t);
  step_ = t;
}

// Runs of the range (local frame) with one decay decision; the padding between parameters
// joins the non-decaying runs (its gradient is zero, so it stays zero either way).
void AdamW::build_segments() {
  segments_.clear();
  update_.reset();
  auto push = [&](std::int64_t b, std::int64_t e, bool decay) {
    if (b >= e) return;
    if (!segments_.empty() && segments_.back().end == b && segments_.back().decay == decay)
      segments_.back().end = e;
    else
      segments_.push_back({b, e, decay});
  };
  std::int64_t covered = 0;
  for (const modeldef::ParamPiece& piece : modeldef::pieces_in_range(*layout_, range_)) {
    const modeldef::ParamSpec& spec = layout_->specs()[piece.spec_index];
    const std::int64_t b = piece.local_begin, e = b + piece.flat.size();
    push(covered, b, false);
    push(b, e, decays(spec.kind, config_));
    covered = e;
  }
  push(covered, range_.size(), false);
}

void AdamW::step(const Tensor& grad, double lr, float inv_scale, Tensor* params) {
  check_range_tensor("grad", grad, range_.size(), master_.device());
  ++step_;
  config_.lr = lr;
  if (!update_) update_ = std::make_shared<kernels::AdamWUpdate>(segments_, master_.device());
  update_->step(master_, m_, v_, grad,
                kernels::adamw_step_constants(lr, config_.beta1, config_.beta2, config_.eps,
                                              config_.weight_decay, step_, inv_scale),
                params);
}

}  // namespace glm::optim
