// fp32 / fp16 / bf16 conversion on CPU (kernels/convert.h).
//
// What makes it fast: F16C converts 8 values per instruction (vcvtph2ps / vcvtps2ph with
// round-to-nearest-even), chosen at run time with __builtin_cpu_supports; large tensors are
// split over threads (the op is memory-bound). CPUs without F16C use core/half.h, the
// reference; both give the same bits for every non-NaN value (NaN stays NaN; F16C keeps the
// top payload bits where half.h canonicalises them). bf16 is the top half of an fp32: plain
// integer loops (rounding by adding 0x7FFF plus the kept lowest bit) that the compiler
// vectorises; fp16 <-> bf16 goes through fp32 in blocks that stay in L1.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

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

// Rounds to nearest even, as float_to_bf16; branch-free so `omp simd` vectorises it (one
// clone per vector width: the baseline build would give SSE2, 4 lanes).
__attribute__((target_clones("avx512f", "avx2", "default"))) void to_bf16_span(std::uint16_t* dst, const float* src, std::int64_t n) {
  const std::uint32_t* x = reinterpret_cast<const std::uint32_t*>(src);
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t v = x[i];
    const bool nan = (v & 0x7FFFFFFFu) > 0x7F800000u;
    const std::uint32_t rounded = (v + 0x7FFFu + ((v >> 16) & 1u)) >> 16;
    dst[i] = static_cast<std::uint16_t>(nan ? ((v >> 16) | 0x40u) : rounded);
  }
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void bf16_to_f32_span(
    float* dst, const std::uint16_t* src, std::int64_t n) {
  std::uint32_t* d = reinterpret_cast<std::uint32_t*>(dst);
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<std::uint32_t>(src[i]) << 16;
}

// One span of any conversion: direct for the pairs with fp32, through an L1 block otherwise.
void convert_span(void* dst, DType dt, const void* src, DType st, std::int64_t n) {
  auto* d16 = static_cast<std::uint16_t*>(dst);
  auto* df = static_cast<float*>(dst);
  const auto* s16 = static_cast<const std::uint16_t*>(src);
  const auto* sf = static_cast<const float*>(src);
  if (dt == st) {
    std::memcpy(dst, src, dtype_bytes(dt, static_cast<std::size_t>(n)));
  } else if (st == DType::f32) {
    dt == DType::f16 ? to_f16_span(d16, sf, n) : to_bf16_span(d16, sf, n);
  } else if (dt == DType::f32) {
    st == DType::f16 ? to_f32_span(df, s16, n) : bf16_to_f32_span(df, s16, n);
  } else {
    constexpr std::int64_t kBlock = 1024;
    float buf[kBlock];
    for (std::int64_t i = 0; i < n; i += kBlock) {
      const std::int64_t m = std::min(kBlock, n - i);
      convert_span(buf, DType::f32, s16 + i, st, m);
      convert_span(d16 + i, dt, buf, DType::f32, m);
    }
  }
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

void convert(Tensor& dst, const Tensor& src) {
  auto* D = static_cast<std::uint8_t*>(dst.raw());
  const auto* S = static_cast<const std::uint8_t*>(src.raw());
  const std::size_t ds = dtype_bytes(dst.dtype(), 1), ss = dtype_bytes(src.dtype(), 1);
  parallel_chunks(src.numel(), [&](std::int64_t i0, std::int64_t i1) {
    convert_span(D + i0 * ds, dst.dtype(), S + i0 * ss, src.dtype(), i1 - i0);
  });
}

void round_to_f16(Tensor& x) {
  float* X = x.data<float>();
  parallel_chunks(x.numel(),
                  [&](std::int64_t i0, std::int64_t i1) { round_span(X + i0, i1 - i0); });
}

void load_row(float* dst, const void* base, DType t, std::int64_t offset, std::int64_t n) {
  const auto* b = static_cast<const std::uint8_t*>(base) + dtype_bytes(t, 1) * offset;
  convert_span(dst, DType::f32, b, t, n);
}

void store_row(void* base, DType t, std::int64_t offset, const float* src, std::int64_t n) {
  auto* b = static_cast<std::uint8_t*>(base) + dtype_bytes(t, 1) * offset;
  convert_span(b, t, src, DType::f32, n);
}

}  // namespace glm::kernels::cpu
