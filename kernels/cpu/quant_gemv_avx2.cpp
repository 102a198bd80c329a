// AVX2 GEMV row kernels of the quantized linears (quant_rows.h): INT8 widened with
// vpmovsxbd + vcvtdq2ps, INT4 nibbles sign-extended by a shift pair, fp16 via vcvtph2ps.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/quant_rows.h"

namespace glm::kernels::cpu {

#define GLM_AVX2 __attribute__((target("avx2,f16c,fma")))

GLM_AVX2 inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

GLM_AVX2 float dot_i8_avx2(const WView& W, std::int64_t o, const float* x) {
  const std::int8_t* q = static_cast<const std::int8_t*>(W.w) + o * W.in;
  const std::int64_t G = W.G, ng = W.ng();
  __m256 total = _mm256_setzero_ps();
  float tail_total = 0.f;
  for (std::int64_t g = 0; g < ng; ++g) {
    const std::int8_t* qg = q + g * G;
    const float* xg = x + g * G;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::int64_t i = 0;
    for (; i + 32 <= G; i += 32) {
      _mm_prefetch(reinterpret_cast<const char*>(qg + i) + kPrefetch, _MM_HINT_T0);
      __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qg + i));
      __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
      a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(xg + i),
                           a0);
      a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))),
                           _mm256_loadu_ps(xg + i + 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)),
                           _mm256_loadu_ps(xg + i + 16), a2);
      a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))),
                           _mm256_loadu_ps(xg + i + 24), a3);
    }
    for (; i + 8 <= G; i += 8) {
      __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qg + i));
      a0 =
          _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), _mm256_loadu_ps(xg + i), a0);
    }
    float tail = 0.f;
    for (; i < G; ++i) tail += xg[i] * static_cast<float>(qg[i]);
    const float s = _cvtsh_ss(W.s[o * ng + g]);
    __m256 acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    total = _mm256_fmadd_ps(acc, _mm256_set1_ps(s), total);
    tail_total += tail * s;
  }
  return hsum256(total) + tail_total;
}

GLM_AVX2 float dot_i4_avx2(const WView& W, std::int64_t o, const float* xe, const float* xo) {
  const std::uint8_t* q = static_cast<const std::uint8_t*>(W.w) + o * (W.in / 2);
  const std::int64_t Gh = W.G / 2, ng = W.ng();
  __m256 total = _mm256_setzero_ps();
  float tail_total = 0.f;
  for (std::int64_t g = 0; g < ng; ++g) {
    const std::uint8_t* qg = q + g * Gh;
    const float* eg = xe + g * Gh;
    const float* og = xo + g * Gh;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::int64_t j = 0;
    for (; j + 16 <= Gh; j += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(qg + j) + kPrefetch, _MM_HINT_T0);
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qg + j));
      __m256i b0 = _mm256_cvtepu8_epi32(b), b1 = _mm256_cvtepu8_epi32(_mm_srli_si128(b, 8));
      // sign-extend a nibble: shift it to the top of the lane, arithmetic shift back
      a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(b0, 28), 28)),
                           _mm256_loadu_ps(eg + j), a0);
      a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(b0, 24), 28)),
                           _mm256_loadu_ps(og + j), a1);
      a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(b1, 28), 28)),
                           _mm256_loadu_ps(eg + j + 8), a2);
      a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(b1, 24), 28)),
                           _mm256_loadu_ps(og + j + 8), a3);
    }
    float tail = 0.f;
    for (; j < Gh; ++j) tail += eg[j] * nibble(qg[j], 0) + og[j] * nibble(qg[j], 1);
    const float s = _cvtsh_ss(W.s[o * ng + g]);
    __m256 acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    total = _mm256_fmadd_ps(acc, _mm256_set1_ps(s), total);
    tail_total += tail * s;
  }
  return hsum256(total) + tail_total;
}

GLM_AVX2 inline __m256 load_f16x8(const std::uint16_t* w) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}

GLM_AVX2 float dot_f16_avx2(const WView& W, std::int64_t o, const float* x) {
  const std::uint16_t* w = static_cast<const std::uint16_t*>(W.w) + o * W.in;
  const std::int64_t in = W.in;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  std::int64_t i = 0;
  for (; i + 32 <= in; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(w + i) + kPrefetch, _MM_HINT_T0);
    a0 = _mm256_fmadd_ps(load_f16x8(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load_f16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(load_f16x8(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(load_f16x8(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= in; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(w + i), _mm256_loadu_ps(x + i), a0);
  float tail = 0.f;
  for (; i < in; ++i) tail += x[i] * _cvtsh_ss(w[i]);
  return hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail;
}

// fp16 -> fp32 for one row, 8 values per vcvtph2ps
GLM_AVX2 void f16_row_f16c(float* dst, const std::uint16_t* w, std::int64_t in) {
  std::int64_t i = 0;
  for (; i + 8 <= in; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(w + i));
  for (; i < in; ++i) dst[i] = _cvtsh_ss(w[i]);
}

}  // namespace glm::kernels::cpu
