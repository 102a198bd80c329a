// The bias add of row-parallel linear layers (kernels/linear.h): rows split over threads.
#include <algorithm>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"

namespace glm::kernels::cpu {

void add_bias(Tensor& y, const Tensor& b) {
  const std::int64_t n = b.numel(), R = y.numel() / std::max<std::int64_t>(n, 1);
  float* Y = y.data<float>();
  const float* B = b.data<float>();
#pragma omp parallel for schedule(static) if (R * n >= kParallelMin)
  for (std::int64_t r = 0; r < R; ++r)
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) Y[r * n + j] += B[j];
}

}  // namespace glm::kernels::cpu
