// fp16 <-> fp32 conversion on CPU (kernels/convert.h).
//
// What makes it fast: F16C converts 8 values per instruction (vcvtph2ps / vcvtps2ph with
// round-to-nearest-even), chosen at run time with __builtin_cpu_supports; large tensors are
// split over threads (the op is memory-bound). CPUs without F16C use core/half.h, the
// reference; both give the same bits for every non-NaN value (NaN stays NaN; F16C keeps the
// top payload bits where half.h canonicalises them).
#include <immintrin.h>
#include <omp.h>

#include <cstdint>

#include "core/half.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"

namespace glm::kernels::cpu {

namespace {

bool have_f16c() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
  }();
  return yes;
}

__attribute__((target("avx2,f16c"))) void to_f16_f16c(std::uint16_t* dst, const float* src,
                                                      std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

__attribute__((target("avx2,f16c"))) void to_f32_f16c(float* dst, const std::uint16_t* src,
                                                      std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

__attribute__((target("avx2,f16c"))) void round_f16c(float* x, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i) x[i] = round_to_half(x[i]);
}

void to_f16_span(std::uint16_t* dst, const float* src, std::int64_t n) {
  if (have_f16c()) return to_f16_f16c(dst, src, n);
  for (std::int64_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}
void to_f32_span(float* dst, const std::uint16_t* src, std::int64_t n) {
  if (have_f16c()) return to_f32_f16c(dst, src, n);
  for (std::int64_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}
void round_span(float* x, std::int64_t n) {
  if (have_f16c()) return round_f16c(x, n);
  for (std::int64_t i = 0; i < n; ++i) x[i] = round_to_half(x[i]);
}

// fn(begin, end) over [0, n), one chunk per thread (multiples of 8 so the vector loop
// covers all but the last chunk's tail).
template <class F>
void parallel_chunks(std::int64_t n, F&& fn) {
  if (n < (1 << 16)) {
    fn(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const std::int64_t blocks = (n + 7) / 8;
    const Range r = thread_range(blocks, t, nt);
    fn(r.begin * 8, std::min(n, r.end * 8));
  }
}

}  // namespace

void f32_to_f16(Tensor& dst, const Tensor& src) {
  std::uint16_t* D = dst.data<std::uint16_t>();
  const float* S = src.data<float>();
  parallel_chunks(src.numel(),
                  [&](std::int64_t i0, std::int64_t i1) { to_f16_span(D + i0, S + i0, i1 - i0); });
}

void f16_to_f32(Tensor& dst, const Tensor& src) {
  float* D = dst.data<float>();
  const std::uint16_t* S = src.data<std::uint16_t>();
  parallel_chunks(src.numel(),
                  [&](std::int64_t i0, std::int64_t i1) { to_f32_span(D + i0, S + i0, i1 - i0); });
}

void round_to_f16(Tensor& x) {
  float* X = x.data<float>();
  parallel_chunks(x.numel(),
                  [&](std::int64_t i0, std::int64_t i1) { round_span(X + i0, i1 - i0); });
}

}  // namespace glm::kernels::cpu
