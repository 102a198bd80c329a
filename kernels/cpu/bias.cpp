// The bias add of row-parallel linear layers (kernels/linear.h): rows split over threads.
#include <algorithm>

#include "kernels/cpu/check.h"
#include "kernels/linear.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/dispatch.h"  // CUDA tensors go to kernels/cuda
#endif

namespace glm::kernels {
using namespace cpu;

void add_bias(Tensor& y, const Tensor& b) {
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(y, b)) return cuda::add_bias(y, b);
#endif
  constexpr const char* op = "add_bias";
  require_cpu(op, y, b);
  require_f32(op, "y", y);
  require_f32(op, "b", b);
  const std::int64_t n = b.numel(), R = y.numel() / std::max<std::int64_t>(n, 1);
  GLM_CHECK(R * n == y.numel(), "{}: y {} is not rows of b {}", op, y.describe(), b.describe());
  float* Y = y.data<float>();
  const float* B = b.data<float>();
#pragma omp parallel for schedule(static) if (R * n >= kParallelMin)
  for (std::int64_t r = 0; r < R; ++r)
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) Y[r * n + j] += B[j];
}

}  // namespace glm::kernels
