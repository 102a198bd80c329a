// Branch-free float math that GCC vectorises inside `#pragma omp simd` loops (glibc's expf
// and tanhf are scalar calls without -ffast-math, which would serialise softmax, GELU and
// cross-entropy; GELU's tanh is written in terms of exp in geglu.cpp).
// Accuracy: exp within ~2 ulp over the clamped range (Cephes polynomial).
#pragma once

#include <bit>
#include <cstdint>

namespace glm::kernels::cpu {

// e^x for x in [-87, 88.5]; inputs outside are clamped (so e^-inf ~ 1.6e-38, never a
// denormal, and large inputs do not overflow to inf).
inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.5f ? 88.5f : x;
  // n = round(x / ln2) via the 1.5*2^23 trick (exact round-to-nearest, no libm call).
  const float kRound = 12582912.0f;
  float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = x - n * 0.693359375f;  // Cody-Waite: ln2 split in two parts
  r = r - n * (-2.12194440e-4f);
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  std::int32_t e = (static_cast<std::int32_t>(n) + 127) << 23;  // 2^n as float bits
  return p * std::bit_cast<float>(e);
}

}  // namespace glm::kernels::cpu
