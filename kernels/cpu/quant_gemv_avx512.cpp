// AVX-512 GEMV row kernels of the quantized linears (quant_rows.h; the design is described
// at the top of quant_linear.cpp) for fp32 activations: INT8 widened with vpmovsxbd (from
// memory) + vcvtdq2ps, INT4 through a 16-entry vpermps table with the group's scale folded
// in, fp16 through vcvtph2ps.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/quant_rows.h"

// GCC 12's AVX-512 intrinsics (_mm512_cvtepi8_epi32, _mm512_reduce_add_ps, ...) start from
// _mm512_undefined_*() and trip -W(maybe-)uninitialized inside the system header: false
// positives that would bury real warnings of this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace glm::kernels::cpu {

#define GLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))

GLM_AVX512 inline float scale_of(const std::uint16_t* s, std::int64_t i) { return _cvtsh_ss(s[i]); }

GLM_AVX512 inline __m128i load16(const std::int8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// dot(x, dequant(row o)) for int8
GLM_AVX512 float dot_i8_avx512(const WView& W, std::int64_t o, const float* x) {
  const std::int8_t* q = static_cast<const std::int8_t*>(W.w) + o * W.in;
  const std::int64_t G = W.G, ng = W.ng();
  __m512 total = _mm512_setzero_ps();
  float tail_total = 0.f;
  for (std::int64_t g = 0; g < ng; ++g) {
    const std::int8_t* qg = q + g * G;
    const float* xg = x + g * G;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::int64_t i = 0;
    for (; i + 64 <= G; i += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(qg + i) + kPrefetch, _MM_HINT_T0);
      // vpmovsxbd straight from memory: no vextracti32x4 on the shuffle port
      __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(qg + i)));
      __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(qg + i + 16)));
      __m512 w2 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(qg + i + 32)));
      __m512 w3 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(qg + i + 48)));
      a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xg + i), a0);
      a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xg + i + 16), a1);
      a2 = _mm512_fmadd_ps(w2, _mm512_loadu_ps(xg + i + 32), a2);
      a3 = _mm512_fmadd_ps(w3, _mm512_loadu_ps(xg + i + 48), a3);
    }
    for (; i + 16 <= G; i += 16) {
      __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(qg + i)));
      a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xg + i), a0);
    }
    float tail = 0.f;
    for (; i < G; ++i) tail += xg[i] * static_cast<float>(qg[i]);
    const float s = scale_of(W.s, o * ng + g);
    __m512 acc = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    total = _mm512_fmadd_ps(acc, _mm512_set1_ps(s), total);
    tail_total += tail * s;
  }
  return _mm512_reduce_add_ps(total) + tail_total;
}

// dot(x, dequant(row o)) for int4; xe/xo are x's even and odd elements [in/2]. The group's
// scale is folded into the lookup table (q * s is exact in fp32: |q| <= 8, s has an 11-bit
// significand), so groups need no reduction of their own: four accumulators run through
// the whole row.
GLM_AVX512 float dot_i4_avx512(const WView& W, std::int64_t o, const float* xe, const float* xo) {
  const std::uint8_t* q = static_cast<const std::uint8_t*>(W.w) + o * (W.in / 2);
  const std::int64_t Gh = W.G / 2, ng = W.ng();
  // nibble value -> float (two's complement): index 0..7 -> 0..7, 8..15 -> -8..-1
  const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  float tail_total = 0.f;
  for (std::int64_t g = 0; g < ng; ++g) {
    const std::uint8_t* qg = q + g * Gh;
    const float* eg = xe + g * Gh;
    const float* og = xo + g * Gh;
    const float s = scale_of(W.s, o * ng + g);
    const __m512 tg = _mm512_mul_ps(table, _mm512_set1_ps(s));  // dequantized nibble values
    std::int64_t j = 0;
    for (; j + 32 <= Gh; j += 32) {
      _mm_prefetch(reinterpret_cast<const char*>(qg + j) + kPrefetch, _MM_HINT_T0);
      __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qg + j));
      __m512i b0 = _mm512_cvtepu8_epi32(_mm256_castsi256_si128(b));
      __m512i b1 = _mm512_cvtepu8_epi32(_mm256_extracti128_si256(b, 1));
      a0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b0, tg), _mm512_loadu_ps(eg + j), a0);
      a1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(b0, 4), tg),
                           _mm512_loadu_ps(og + j), a1);
      a2 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b1, tg), _mm512_loadu_ps(eg + j + 16), a2);
      a3 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(b1, 4), tg),
                           _mm512_loadu_ps(og + j + 16), a3);
    }
    for (; j + 16 <= Gh; j += 16) {
      __m512i b0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qg + j)));
      a0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b0, tg), _mm512_loadu_ps(eg + j), a0);
      a1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(b0, 4), tg),
                           _mm512_loadu_ps(og + j), a1);
    }
    float tail = 0.f;
    for (; j < Gh; ++j) tail += eg[j] * nibble(qg[j], 0) + og[j] * nibble(qg[j], 1);
    tail_total += tail * s;
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) +
         tail_total;
}

GLM_AVX512 float dot_f16_avx512(const WView& W, std::int64_t o, const float* x) {
  const std::uint16_t* w = static_cast<const std::uint16_t*>(W.w) + o * W.in;
  const std::int64_t in = W.in;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  std::int64_t i = 0;
  for (; i + 64 <= in; i += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(w + i) + kPrefetch, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + i + 32) + kPrefetch, _MM_HINT_T0);
    a0 = _mm512_fmadd_ps(
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))),
        _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16))),
        _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 32))),
        _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 48))),
        _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= in; i += 16)
    a0 = _mm512_fmadd_ps(
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))),
        _mm512_loadu_ps(x + i), a0);
  float tail = 0.f;
  for (; i < in; ++i) tail += x[i] * _cvtsh_ss(w[i]);
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + tail;
}

}  // namespace glm::kernels::cpu
