// The AdamW op's entry (kernels/adamw.h): the segments and the tensors are checked once
// here, then kernels/cpu/adamw.cpp or kernels/cuda/cuda_adamw.h runs the update.
#include "kernels/adamw.h"

#include <cmath>

#include "kernels/check.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_adamw.h"
#endif

namespace glm::kernels {

AdamWStepConstants adamw_step_constants(double lr, double beta1, double beta2, double eps,
                                        double weight_decay, std::int64_t t, float inv_scale) {
  GLM_CHECK(t >= 1, "adamw_step_constants: step {} must be >= 1", t);
  const double td = static_cast<double>(t);
  const double bias1 = 1.0 - std::pow(beta1, td);
  const double bias2 = 1.0 - std::pow(beta2, td);
  return {static_cast<float>(beta1),
          static_cast<float>(1.0 - beta1),
          static_cast<float>(beta2),
          static_cast<float>(1.0 - beta2),
          static_cast<float>(lr / bias1),
          static_cast<float>(1.0 / std::sqrt(bias2)),
          static_cast<float>(eps),
          static_cast<float>(1.0 - lr * weight_decay),
          inv_scale};
}

AdamWUpdate::AdamWUpdate(std::vector<AdamWSegment> segments, Device device)
    : segments_(std::move(segments)), device_(device) {
  std::int64_t expect = 0;
  for (const AdamWSegment& s : segments_) {
    GLM_CHECK(s.begin == expect && s.end >= s.begin,
              "AdamWUpdate: segments must tile [0, n) in order; got [{}, {}) after {}", s.begin,
              s.end, expect);
    expect = s.end;
  }
  n_ = expect;
#ifdef GLM_WITH_CUDA
  if (device_.is_cuda()) device_chunks_ = cuda::upload_adamw_chunks(segments_, num_chunks_);
#endif
  GLM_CHECK(device_.is_cpu() || device_chunks_.raw(),
            "AdamWUpdate: {} has no backend in this build", device_name(device_));
}

void AdamWUpdate::step(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad,
                       const AdamWStepConstants& c, Tensor* rounded) const {
  constexpr std::string_view op = "AdamWUpdate::step";
  const Device dev = op_device(
      op, {{"master", p}, {"exp_avg", m}, {"exp_avg_sq", v}, {"grad", grad}, {"rounded", rounded}});
  if (rounded) {
    GLM_CHECK(rounded->dtype() == DType::f16 || rounded->dtype() == DType::bf16,
              "{}: the rounded copy {} must be f16 or bf16", op, rounded->describe());
    require_contiguous(op, "rounded", *rounded);
    require_numel(op, "rounded", *rounded, n_);
  }
  GLM_CHECK(dev.is_cuda() == device_.is_cuda(), "{}: the tensors are on {}, the update on {}",
            op, p.describe(), device_name(device_));
  for (const Arg& a : {Arg("master", p), Arg("exp_avg", m), Arg("exp_avg_sq", v),
                       Arg("grad", grad)}) {
    require_f32(op, a.name, *a.t);
    require_numel(op, a.name, *a.t, n_);
  }
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    return cuda::adamw_update(p, m, v, grad, device_chunks_, num_chunks_, c, rounded);
  }
#endif
  cpu::adamw_update(p, m, v, grad, segments_, c, rounded);
}

}  // namespace glm::kernels
