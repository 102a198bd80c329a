// AdamW's fused update (optim/adamw.h). The plain double-precision reference it is tested
// against lives in tests/unit/test_optim_adamw.cpp.
#include "optim/adamw.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_adamw.h"
#endif

namespace glm::optim {

#ifdef GLM_WITH_CUDA
struct AdamW::DeviceUpdate {
  kernels::cuda::AdamWUpdate update;
};
#else
struct AdamW::DeviceUpdate {};
#endif

namespace {

// Per-step constants of the update, folded so the loop does one multiply where it can.
struct StepConstants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;       // lr / (1 - beta1^t)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
  float eps;
  float decay_keep;  // 1 - lr*wd   (decaying elements)
  float inv_scale;
};

// The fused AdamW pass over n elements with one weight-decay decision:
//   g = grad*inv_scale; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g
//   p = p*keep - step_size * m / (sqrt(v)*inv_sqrt_bias2 + eps)      keep = 1 - lr*wd or 1
// Elementwise and branch-free, so `omp simd` vectorises it (sqrt and divide included).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void adamw_span(
    float* __restrict p, float* __restrict m, float* __restrict v, const float* __restrict grad,
    std::int64_t n, const StepConstants c, float keep) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * c.inv_scale;
    const float mi = c.beta1 * m[i] + c.one_minus_beta1 * g;
    const float vi = c.beta2 * v[i] + c.one_minus_beta2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) * c.inv_sqrt_bias2 + c.eps;
    p[i] = p[i] * keep - c.step_size * (mi / denom);
  }
}

}  // namespace

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

bool decays(model::ParamKind kind, const AdamWConfig& config) {
  return kind == model::ParamKind::matrix ||
         (kind == model::ParamKind::embedding && config.decay_embedding);
}

AdamW::AdamW(std::shared_ptr<const model::ParamLayout> layout, AdamWConfig config,
             ElementRange range, Tensor master)
    : layout_(std::move(layout)), config_(config), range_(range), master_(std::move(master)) {
  GLM_CHECK(layout_ != nullptr, "AdamW: no parameter layout");
  // The master's device is where the update runs (the CPU loop or the CUDA kernel).
  check_range_tensor("master", master_, range_.size(), master_.device());
  m_ = Tensor::zeros({range_.size()}, DType::f32, master_.device());
  v_ = Tensor::zeros({range_.size()}, DType::f32, master_.device());
  build_segments();
}

AdamW::AdamW(std::shared_ptr<const model::ParamLayout> layout, AdamWConfig config, Tensor master)
    : AdamW(layout, config, full_range(*layout), std::move(master)) {}

void AdamW::set_config(const AdamWConfig& config) {
  config_ = config;
  build_segments();  // decay_embedding may have changed
}

void AdamW::set_step_count(std::int64_t t) {
  GLM_CHECK(t >= 0, "AdamW: step count {} is negative", t);
  step_ = t;
}

// Runs of the range (local frame) with one decay decision; the padding between parameters
// joins the non-decaying runs (its gradient is zero, so it stays zero either way).
void AdamW::build_segments() {
  segments_.clear();
  device_.reset();
  auto push = [&](std::int64_t b, std::int64_t e, bool decay) {
    if (b >= e) return;
    if (!segments_.empty() && segments_.back().end == b && segments_.back().decay == decay)
      segments_.back().end = e;
    else
      segments_.push_back({b, e, decay});
  };
  std::int64_t covered = 0;
  for (const ParamPiece& piece : pieces_in_range(*layout_, range_)) {
    const model::ParamSpec& spec = layout_->specs()[piece.spec_index];
    const std::int64_t b = piece.local_begin, e = b + piece.flat.size();
    push(covered, b, false);
    push(b, e, decays(spec.kind, config_));
    covered = e;
  }
  push(covered, range_.size(), false);
}

void AdamW::step(const Tensor& grad, double lr, float inv_scale) {
  const std::int64_t n = range_.size();
  check_range_tensor("grad", grad, n, master_.device());
  ++step_;
  config_.lr = lr;
  const double t = static_cast<double>(step_);
  const double bias1 = 1.0 - std::pow(config_.beta1, t);
  const double bias2 = 1.0 - std::pow(config_.beta2, t);
  const StepConstants c{static_cast<float>(config_.beta1),
                        static_cast<float>(1.0 - config_.beta1),
                        static_cast<float>(config_.beta2),
                        static_cast<float>(1.0 - config_.beta2),
                        static_cast<float>(lr / bias1),
                        static_cast<float>(1.0 / std::sqrt(bias2)),
                        static_cast<float>(config_.eps),
                        static_cast<float>(1.0 - lr * config_.weight_decay),
                        inv_scale};
#ifdef GLM_WITH_CUDA
  if (master_.device().is_cuda()) {
    if (!device_) {
      std::vector<kernels::cuda::AdamWSegment> segs;
      for (const Segment& s : segments_) segs.push_back({s.begin, s.end, s.decay});
      device_ = std::make_shared<DeviceUpdate>(DeviceUpdate{kernels::cuda::AdamWUpdate(segs)});
    }
    device_->update.step(master_, m_, v_, grad,
                         kernels::cuda::adamw_step_constants(lr, config_.beta1, config_.beta2,
                                                             config_.eps, config_.weight_decay,
                                                             step_, inv_scale));
    return;
  }
#endif
  float* P = master_.data<float>();
  float* M = m_.data<float>();
  float* V = v_.data<float>();
  const float* G = grad.data<float>();

  // One contiguous chunk of [0, n) per thread; each walks the segments crossing its chunk.
  constexpr std::int64_t kSerialBelow = 1 << 15;
  const std::vector<Segment>& segs = segments_;
  auto run = [&](std::int64_t i0, std::int64_t i1) {
    auto it = std::upper_bound(segs.begin(), segs.end(), i0,
                               [](std::int64_t i, const Segment& s) { return i < s.end; });
    for (; it != segs.end() && it->begin < i1; ++it) {
      const std::int64_t b = std::max(i0, it->begin), e = std::min(i1, it->end);
      adamw_span(P + b, M + b, V + b, G + b, e - b, c, it->decay ? c.decay_keep : 1.f);
    }
  };
  if (n < kSerialBelow) {
    run(0, n);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    run(n * id / nt, n * (id + 1) / nt);
  }
}

}  // namespace glm::optim
