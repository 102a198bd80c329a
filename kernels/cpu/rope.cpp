// Rotary position embedding on CPU (math in kernels/rope.h).
//
// What makes it fast: cos/sin depend only on (position, i), so they are computed once per
// row into a small buffer and reused by the q and k of every head of that row; the rotation
// itself is an `omp simd` loop over the half dim. Rows are split over threads. A 16-bit
// qkv row (all heads' q, k and v) is widened into a thread's fp32 buffer and rounded back
// (kernels/cpu/row16.h); v passes through unchanged, as the round trip is exact.
#include <cmath>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {

namespace {

// Rotate x (one q or k vector of length 2*half) in place by the angles whose cos/sin are
// given; sign = +1 forward, -1 for the inverse (transposed) rotation of the backward.
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void rotate(
    float* x, const float* cs, const float* sn, std::int64_t half, float sign) {
#pragma omp simd
  for (std::int64_t i = 0; i < half; ++i) {
    const float x1 = x[i], x2 = x[i + half], s = sign * sn[i];
    x[i] = x1 * cs[i] - x2 * s;
    x[i + half] = x2 * cs[i] + x1 * s;
  }
}

}  // namespace

void rope_apply(Tensor& qkv, const Tensor& positions, float base, float sign) {
  const std::int64_t R = qkv.size(0), a = qkv.size(1), d = qkv.size(3);
  const std::int64_t half = d / 2;
  // inv_freq_i = base^(-2i/d), in fp32 as the PyTorch reference computes it.
  std::vector<float> inv_freq(half);
  for (std::int64_t i = 0; i < half; ++i)
    inv_freq[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(d));
  const std::int32_t* P = positions.data<std::int32_t>();
  const std::int64_t row = a * 3 * d;
#pragma omp parallel if (R * a * d >= kParallelMin / 4)
  {
    std::vector<float> cs(half), sn(half);
    std::vector<float> buf = row_buffer(qkv, row);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      const float pos = static_cast<float>(P[r]);
      for (std::int64_t i = 0; i < half; ++i) {
        const float theta = pos * inv_freq[i];
        cs[i] = std::cos(theta);
        sn[i] = std::sin(theta);
      }
      float* x = inout_row(qkv, r, row, buf.data());
      for (std::int64_t hd = 0; hd < a; ++hd) {
        float* q = x + hd * 3 * d;
        rotate(q, cs.data(), sn.data(), half, sign);      // q
        rotate(q + d, cs.data(), sn.data(), half, sign);  // k
      }
      finish_row(qkv, r, row, x);
    }
  }
}

}  // namespace glm::kernels::cpu
