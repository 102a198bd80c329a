// The bias add of row-parallel linear layers (kernels/linear.h): rows split over threads. A
// 16-bit y is read and written natively, a row at a time through a thread's fp32 buffer
// (kernels/cpu/row16.h), each element rounded once; b arrives as fp32 (kernels/linear.cpp).
#include <algorithm>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {

void add_bias(Tensor& y, const Tensor& b) {
  const std::int64_t n = b.numel(), R = y.numel() / std::max<std::int64_t>(n, 1);
  const float* B = b.data<float>();
#pragma omp parallel if (R * n >= kParallelMin)
  {
    std::vector<float> buf = row_buffer(y, n);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      float* row = inout_row(y, r, n, buf.data());
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) row[j] += B[j];
      finish_row(y, r, n, row);
    }
  }
}

}  // namespace glm::kernels::cpu
