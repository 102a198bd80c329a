// GeGLU on CPU (math in kernels/geglu.h).
//
// What makes it fast: tanh is rewritten in terms of the branch-free exp of vec_math.h, so
// the whole row is one vectorised loop (libm tanhf would be a scalar call per element); rows
// are split over threads and each row is read and written once. 16-bit storage is read and
// written natively: each row widened into an L1 buffer and rounded back (kernels/cpu/row16.h).
#include <cmath>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"
#include "kernels/cpu/vec_math.h"

namespace glm::kernels::cpu {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void geglu_row(float* g,
                                                                                const float* x1,
                                                                                const float* x2,
                                                                                std::int64_t f) {
#pragma omp simd
  for (std::int64_t j = 0; j < f; ++j) {
    const float z = x2[j];
    // With a = exp(-2|y|) in (0, 1]: 1 + tanh(y) = 2/(1+a) for y >= 0, 2a/(1+a) for y < 0.
    // Nothing overflows (a never exceeds 1) and nothing cancels in either saturated tail.
    const float y = kSqrt2OverPi * (z + kCubic * z * z * z);
    const float a = exp_approx(-2.f * std::fabs(y));
    const float half_one_plus_t = (y >= 0.f ? 1.f : a) / (1.f + a);
    g[j] = x1[j] * (z * half_one_plus_t);
  }
}

// du1 = dg * GELU(z);  du2 = dg * x1 * GELU'(z)
// GELU'(z) = 0.5 (1 + t) + 0.5 z (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2)
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void geglu_backward_row(
    float* du1, float* du2, const float* dg, const float* x1, const float* x2, std::int64_t f) {
#pragma omp simd
  for (std::int64_t j = 0; j < f; ++j) {
    const float z = x2[j];
    // y = sqrt(2/pi)(z + 0.044715 z^3), a = exp(-2|y|) in (0, 1]:
    //   y >= 0:  1 + t = 2/(1+a),  1 - t = 2a/(1+a);   y < 0: the two swap.
    // 1 - t^2 = (1+t)(1-t) keeps full relative precision in both saturated tails, and no
    // intermediate can overflow (a large |z| once produced inf * 0 = NaN here).
    const float y = kSqrt2OverPi * (z + kCubic * z * z * z);
    const float a = exp_approx(-2.f * std::fabs(y));
    const float inv = 2.f / (1.f + a);
    const float one_plus_t = y >= 0.f ? inv : a * inv, one_minus_t = y >= 0.f ? a * inv : inv;
    const float gelu = 0.5f * z * one_plus_t;
    const float dgelu = 0.5f * one_plus_t + 0.5f * z * one_plus_t * one_minus_t * kSqrt2OverPi *
                                                (1.f + 3.f * kCubic * z * z);
    const float x = x1[j], d = dg[j];
    du1[j] = d * gelu;
    du2[j] = d * x * dgelu;
  }
}

}  // namespace

void geglu_forward(Tensor& g, const Tensor& u) {
  const std::int64_t f = u.size(-1) / 2, R = rows_of(u);
#pragma omp parallel if (R * f >= kParallelMin / 4)
  {
    // 16-bit rows go through [x1 | x2] and g buffers in L1 (kernels/cpu/row16.h).
    std::vector<float> xb = row_buffer(u, 2 * f), gb = row_buffer(g, f);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      const float* x = in_row(u, r, 2 * f, xb.data());
      float* out = out_row(g, r, f, gb.data());
      geglu_row(out, x, x + f, f);
      finish_row(g, r, f, out);
    }
  }
}

void geglu_backward(Tensor& du, const Tensor& dg, const Tensor& u) {
  const std::int64_t f = u.size(-1) / 2, R = rows_of(u);
#pragma omp parallel if (R * f >= kParallelMin / 4)
  {
    // 16-bit rows go through [x1 | x2], dg and [du1 | du2] buffers in L1.
    std::vector<float> xb = row_buffer(u, 2 * f), db = row_buffer(dg, f),
                       ob = row_buffer(du, 2 * f);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      const float* x = in_row(u, r, 2 * f, xb.data());
      float* out = out_row(du, r, 2 * f, ob.data());
      geglu_backward_row(out, out + f, in_row(dg, r, f, db.data()), x, x + f, f);
      finish_row(du, r, 2 * f, out);
    }
  }
}

}  // namespace glm::kernels::cpu
