#include "kernels/cuda/cuda_adamw.h"

#include <cmath>

#include "kernels/cuda/cuda_check.h"

namespace glm::kernels::cuda {

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

std::vector<AdamWChunk> adamw_chunks(std::span<const AdamWSegment> segments) {
  std::vector<AdamWChunk> out;
  std::int64_t expect = 0;
  for (const AdamWSegment& s : segments) {
    GLM_CHECK(s.begin == expect && s.end >= s.begin,
              "adamw_chunks: segments must tile [0, n) in order; got [{}, {}) after {}", s.begin,
              s.end, expect);
    for (std::int64_t b = s.begin; b < s.end; b += kAdamWChunk)
      out.push_back({b, std::min(s.end, b + kAdamWChunk), s.decay ? 1 : 0});
    expect = s.end;
  }
  return out;
}

AdamWUpdate::AdamWUpdate(std::span<const AdamWSegment> segments) {
  const std::vector<AdamWChunk> chunks = adamw_chunks(segments);
  num_chunks_ = static_cast<std::int64_t>(chunks.size());
  n_ = segments.empty() ? 0 : segments.back().end;
  const std::int64_t bytes = std::max<std::int64_t>(1, num_chunks_ * sizeof(AdamWChunk));
  chunks_ = Tensor::empty({bytes}, DType::u8, Device::cuda(current_device()));
  if (num_chunks_ > 0)
    check(cudaMemcpy(chunks_.raw(), chunks.data(), num_chunks_ * sizeof(AdamWChunk),
                     cudaMemcpyHostToDevice),
          "cudaMemcpy(AdamW chunks)");
}

void AdamWUpdate::step(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad,
                       const AdamWStepConstants& c) {
  constexpr const char* op = "cuda::AdamWUpdate::step";
  for (auto [name, t] : {std::pair<const char*, const Tensor*>{"master", &p},
                         {"exp_avg", &m},
                         {"exp_avg_sq", &v},
                         {"grad", &grad}}) {
    require_f32(op, name, *t);
    require_numel(op, name, *t, n_);
  }
  check_launch(launch_adamw(p.data<float>(), m.data<float>(), v.data<float>(), grad.data<float>(),
                            static_cast<const AdamWChunk*>(chunks_.raw()), num_chunks_, c,
                            current_stream()),
               op);
}

}  // namespace glm::kernels::cuda
