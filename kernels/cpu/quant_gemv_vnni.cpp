// AVX-512 VNNI GEMV row kernels for QuantActivations::int8 (quant_rows.h, kernels/quant.h):
// dot(sx * xq, dequant(W[o, :])) with x already rounded to int8 per block of 32 (XQ).
//
// What makes it fast: the fp32 kernels spend ~6 vector uops per 32 INT4 weights on turning
// nibbles into floats; here one 64-byte load gives 128 INT4 weights, and 2 ternary-logic
// ops + 1 shift + 2 vpdpbusd (u8 x s8 -> int32, 4 products per lane) multiply them all by
// xq, exactly, in int32. Per chunk one vcvtdq2ps and one FMA apply the lane's x scale.
// - INT4: vpdpbusd needs one unsigned operand; a nibble u (two's complement value
//   v = u < 8 ? u : u - 16) becomes u ^ 8 = v + 8 in 0..15, and the lane's 8 * sum(xq) is
//   taken back by starting the int32 accumulator at XQ::lane_bias.
// - INT8: |w| is the unsigned operand and w's sign moves onto xq (a masked 0 - xq).
// - Weight scales: one per run of chunks (G a multiple of two chunks or more, or per-row),
//   applied once per group; or, for groups of at most one chunk, 16 / lanes-per-group fp16
//   scales per chunk widened to a per-lane vector with one vpermps.
// The last chunk of a row is a masked load: masked-off weight bytes read as 0 and meet
// zero-padded xq, so they add nothing.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/quant_rows.h"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (see quant_gemv_avx512.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace glm::kernels::cpu {

#define GLM_VNNI \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

namespace {

// weights per dword lane: 8 (int4: 4 bytes of 2 nibbles) or 4 (int8)
constexpr std::int64_t per_lane(bool i4) { return i4 ? 8 : 4; }

// The exact int32 lane sums of chunk c: sum over the lane's weights of w * xq.
template <bool I4>
GLM_VNNI inline __m512i lane_dots(__m512i w, const XQ& x, std::int64_t c) {
  if constexpr (I4) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(0x08);
    const __m512i even = _mm512_ternarylogic_epi32(w, low4, eight, 0x6A);  // (w & 0xF) ^ 8
    const __m512i odd = _mm512_ternarylogic_epi32(_mm512_srli_epi16(w, 4), low4, eight, 0x6A);
    __m512i acc = _mm512_loadu_si512(x.lane_bias.data() + c * 16);
    acc = _mm512_dpbusd_epi32(acc, even, _mm512_loadu_si512(x.q0.data() + c * 64));
    return _mm512_dpbusd_epi32(acc, odd, _mm512_loadu_si512(x.q1.data() + c * 64));
  } else {
    const __m512i xv = _mm512_loadu_si512(x.q0.data() + c * 64);
    const __m512i xs = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(w), _mm512_setzero_si512(), xv);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), xs);
  }
}

// Weight bytes [64c, 64c + 64) of a row of `bytes`, zeros past its end (a masked load).
GLM_VNNI inline __m512i load_chunk(const std::uint8_t* q, std::int64_t c, std::int64_t bytes) {
  _mm_prefetch(reinterpret_cast<const char*>(q + c * 64) + kPrefetchVnni, _MM_HINT_T0);
  const std::int64_t left = bytes - c * 64;
  return left >= 64 ? _mm512_loadu_si512(q + c * 64)
                    : _mm512_maskz_loadu_epi8((__mmask64{1} << left) - 1, q + c * 64);
}

// acc + (w * xq) * sx for the 16 lanes of chunk c
template <bool I4>
GLM_VNNI inline __m512 add_chunk(__m512 acc, __m512i w, const XQ& x, std::int64_t c) {
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(lane_dots<I4>(w, x, c)),
                         _mm512_loadu_ps(x.lane_scale.data() + c * 16), acc);
}

template <bool I4>
GLM_VNNI float dot_vnni(const WView& W, std::int64_t o, const XQ& x) {
  const std::int64_t bytes = I4 ? W.in / 2 : W.in, ng = W.ng();
  const std::uint8_t* q = static_cast<const std::uint8_t*>(W.w) + o * bytes;
  const std::uint16_t* s = W.s + o * ng;
  const std::int64_t lanes_per_group = W.G / per_lane(I4);
  __m512 total = _mm512_setzero_ps();
  if (ng == 1 || lanes_per_group > 16) {
    // one scale per run of >= 2 whole chunks: sum the chunks in fp32 lanes, then scale once
    const std::int64_t chunks_per_group = ng == 1 ? x.chunks : lanes_per_group / 16;
    for (std::int64_t g = 0; g < ng; ++g) {
      const std::int64_t c0 = g * chunks_per_group, c1 = c0 + chunks_per_group;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0;  // two chains hide the FMA latency
      std::int64_t c = c0;
      for (; c + 2 <= c1; c += 2) {
        a0 = add_chunk<I4>(a0, load_chunk(q, c, bytes), x, c);
        a1 = add_chunk<I4>(a1, load_chunk(q, c + 1, bytes), x, c + 1);
      }
      if (c < c1) a0 = add_chunk<I4>(a0, load_chunk(q, c, bytes), x, c);
      total = _mm512_fmadd_ps(_mm512_add_ps(a0, a1), _mm512_set1_ps(_cvtsh_ss(s[g])), total);
    }
  } else {
    // 16 / lanes_per_group groups per chunk (one group per chunk too: measured faster than
    // the per-group loop of one chunk): their scales widened to one per lane
    const std::int64_t groups_per_chunk = 16 / lanes_per_group;
    alignas(64) std::int32_t idx[16];
    for (int l = 0; l < 16; ++l) idx[l] = static_cast<std::int32_t>(l / lanes_per_group);
    const __m512i spread = _mm512_load_si512(idx);
    for (std::int64_t c = 0; c < x.chunks; ++c) {
      const std::int64_t g0 = c * groups_per_chunk, n = std::min(groups_per_chunk, ng - g0);
      const __m512 sw = _mm512_permutexvar_ps(
          spread, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16{1} << n) - 1, s + g0)));
      total = _mm512_fmadd_ps(add_chunk<I4>(_mm512_setzero_ps(), load_chunk(q, c, bytes), x, c), sw, total);
    }
  }
  return _mm512_reduce_add_ps(total);
}

}  // namespace

bool vnni_fits(const WView& W) {
  if (W.kind == WKind::f16) return false;
  if (W.ng() == 1) return true;
  const std::int64_t lane = per_lane(W.kind == WKind::i4);
  if (W.G % lane != 0) return false;
  const std::int64_t lanes_per_group = W.G / lane;
  return lanes_per_group % 16 == 0 || 16 % lanes_per_group == 0;
}

float dot_i8_vnni(const WView& W, std::int64_t o, const XQ& x) { return dot_vnni<false>(W, o, x); }
float dot_i4_vnni(const WView& W, std::int64_t o, const XQ& x) { return dot_vnni<true>(W, o, x); }

}  // namespace glm::kernels::cpu
