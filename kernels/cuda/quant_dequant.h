// Register dequantization of INT4/INT8 weights (format: kernels/quant.h): the bit tricks the
// CUDA kernels in quant_gemm_kernels.cu use, written once for host and device so the host
// unit tests (tests/cuda/test_cuda_quant.cpp) check them exhaustively without a GPU.
//
// What makes them fast: no integer->float conversion instruction (a quarter-rate unit on
// sm_90). A masked nibble or byte is XORed into the mantissa of a "magic" float whose
// exponent makes the mantissa an integer; one FFMA (fp32) or HSUB2 (fp16 pairs) then
// removes the magic and the two's-complement offset, leaving q exactly:
//   fp32: bits 0x4B000000 | m  =  2^23 + m,   so (2^23 + (q+8)*16^i)*16^-i - (2^(23-4i)+8) = q
//   fp16: bits 0x6400 | m      =  1024 + m,   so (1024 + (q+8)) - 1032 = q
// (q+8 is the nibble XOR 8: a two's-complement nibble turned offset-binary; bytes use 128.)
// Every step is exact, so dequantized values equal the format's q bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define GLM_QUANT_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#define GLM_QUANT_HD inline
#endif

namespace glm::kernels::cuda::quant {

GLM_QUANT_HD float bits_as_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

GLM_QUANT_HD float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// PTX prmt (CUDA __byte_perm): result byte k = byte sel[4k+2:4k] of the 8 bytes {lo, hi}.
GLM_QUANT_HD std::uint32_t byte_perm(std::uint32_t lo, std::uint32_t hi, std::uint32_t sel) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(lo, hi, sel);
#else
  const std::uint64_t v = (static_cast<std::uint64_t>(hi) << 32) | lo;
  std::uint32_t r = 0;
  for (int k = 0; k < 4; ++k) r |= static_cast<std::uint32_t>((v >> (8 * ((sel >> (4 * k)) & 7))) & 0xFF) << (8 * k);
  return r;
#endif
}

// ---- fp32 values (the CUDA-core GEMV) ---------------------------------------------------

// Nibble i (0..3, bits 4i..4i+3) of w as an exact float: one LOP3 and one FFMA.
template <int i>
GLM_QUANT_HD float nibble_to_f32(std::uint32_t w) {
  constexpr std::uint32_t kMask = 0xFu << (4 * i), kMagic = 0x4B000000u | (8u << (4 * i));
  constexpr float kScale = 1.0f / static_cast<float>(1u << (4 * i));
  constexpr float kBias = -(static_cast<float>(1u << (23 - 4 * i)) + 8.0f);
  return fma_rn(bits_as_float((w & kMask) ^ kMagic), kScale, kBias);
}

// The 8 int4 elements of a little-endian 32-bit word (element e = nibble e) -> q[0..7].
GLM_QUANT_HD void int4x8_to_f32(std::uint32_t w, float (&q)[8]) {
  const std::uint32_t hi = w >> 16;  // nibbles 4..7 moved to 0..3 (bit 23 is the exponent's)
  q[0] = nibble_to_f32<0>(w);
  q[1] = nibble_to_f32<1>(w);
  q[2] = nibble_to_f32<2>(w);
  q[3] = nibble_to_f32<3>(w);
  q[4] = nibble_to_f32<0>(hi);
  q[5] = nibble_to_f32<1>(hi);
  q[6] = nibble_to_f32<2>(hi);
  q[7] = nibble_to_f32<3>(hi);
}

// Byte i (0..1) of w as an exact float.
template <int i>
GLM_QUANT_HD float byte_to_f32(std::uint32_t w) {
  constexpr std::uint32_t kMask = 0xFFu << (8 * i), kMagic = 0x4B000000u | (0x80u << (8 * i));
  constexpr float kScale = 1.0f / static_cast<float>(1u << (8 * i));
  constexpr float kBias = -(static_cast<float>(1u << (23 - 8 * i)) + 128.0f);
  return fma_rn(bits_as_float((w & kMask) ^ kMagic), kScale, kBias);
}

// The 4 int8 elements of a little-endian 32-bit word -> q[0..3].
GLM_QUANT_HD void int8x4_to_f32(std::uint32_t w, float (&q)[4]) {
  const std::uint32_t hi = w >> 16;
  q[0] = byte_to_f32<0>(w);
  q[1] = byte_to_f32<1>(w);
  q[2] = byte_to_f32<0>(hi);
  q[3] = byte_to_f32<1>(hi);
}

// ---- fp16 pairs (the tensor-core small-batch path) --------------------------------------
// A k-block of 32 elements a lane holds is split into 8-element groups v; within a group the
// natural pairs of the magic trick are (e, e+4), e = 0..3. The MMA fragments use those pairs
// as logical k neighbours, and x is permuted the same way (x_pairs_from_8), so the product
// sums the right terms whatever the physical order (the order of a sum over k is free).

// fp16x2 bits of (1032 + q[e], 1032 + q[e+4]) for the 8 int4 elements of w; subtract 1032
// (HSUB2, exact) to get the pair (q[e], q[e+4]).
template <int e>
GLM_QUANT_HD std::uint32_t int4_pair_biased_f16x2(std::uint32_t w) {
  return ((w >> (4 * e)) & 0x000F000Fu) ^ 0x64086408u;
}
inline constexpr std::uint16_t kInt4PairBias = 0x6408;  // fp16 1032 = 1024 + 8

// fp16x2 bits of (1152 + q[e], 1152 + q[e+4]) for 8 int8 elements in two words (elements
// 0..3 in w_lo, 4..7 in w_hi); subtract 1152 (exact) to get (q[e], q[e+4]).
template <int e>
GLM_QUANT_HD std::uint32_t int8_pair_biased_f16x2(std::uint32_t w_lo, std::uint32_t w_hi) {
  constexpr std::uint32_t kSel = e | (e << 4) | ((4 + e) << 8) | ((4 + e) << 12);
  return (byte_perm(w_lo, w_hi, kSel) & 0x00FF00FFu) ^ 0x64806480u;
}
inline constexpr std::uint16_t kInt8PairBias = 0x6480;  // fp16 1152 = 1024 + 128

// x: 8 fp16 values as 4 words (x0,x1) (x2,x3) (x4,x5) (x6,x7) -> the pairs matching the
// weight pairs: b[0] = (x0,x4), b[1] = (x1,x5), b[2] = (x2,x6), b[3] = (x3,x7).
GLM_QUANT_HD void x_pairs_from_8(const std::uint32_t (&xw)[4], std::uint32_t (&b)[4]) {
  b[0] = byte_perm(xw[0], xw[2], 0x5410);
  b[1] = byte_perm(xw[0], xw[2], 0x7632);
  b[2] = byte_perm(xw[1], xw[3], 0x5410);
  b[3] = byte_perm(xw[1], xw[3], 0x7632);
}

// Step h (0 or 1) of an 8-element group, for one row: the A registers of m16n8k16 hold the
// pairs for logical k (2t, 2t+1) and (2t+8, 2t+9); they are the weight pairs e = 2h and
// e = 2h+1, and the B registers are b[2h] and b[2h+1] of x_pairs_from_8.

}  // namespace glm::kernels::cuda::quant
