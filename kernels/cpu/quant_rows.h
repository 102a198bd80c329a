// Internal to the CPU quant kernels (kernels/quant.h): the raw weight view the drivers in
// quant_linear.cpp hand to the per-ISA GEMV row kernels (quant_gemv_avx512.cpp,
// quant_gemv_avx2.cpp). A row kernel returns dot(x, dequant(W[o, :])) with the weights
// dequantized in registers; int4 kernels take x split into its even and odd elements.
#pragma once

#include <cstdint>

namespace glm::kernels::cpu {

enum class WKind { i8, i4, f16 };

// The weight operand in raw form. f16: s is unused, G = in.
struct WView {
  WKind kind;
  std::int64_t out, in, G;
  const void* w;           // i8 [out, in] | u8 [out, in/2] | f16 [out, in]
  const std::uint16_t* s;  // f16 [out, in/G]
  std::int64_t ng() const { return in / G; }
};

// Element i's value in a packed int4 byte (two's complement, low nibble = even element).
inline int nibble(std::uint8_t byte, std::int64_t i) {
  const int v = i % 2 == 0 ? (byte & 0xF) : (byte >> 4);
  return v >= 8 ? v - 16 : v;
}

// Software prefetch distance in weight bytes: a GEMV streams each weight once, so the
// loads run ahead of the hardware prefetcher's page-bounded streams.
constexpr int kPrefetch = 1024;

// Compiled for AVX-512 (F, BW, VL, DQ) + F16C + FMA; call only where the CPU has them.
float dot_i8_avx512(const WView& W, std::int64_t o, const float* x);
float dot_i4_avx512(const WView& W, std::int64_t o, const float* xe, const float* xo);
float dot_f16_avx512(const WView& W, std::int64_t o, const float* x);
// Compiled for AVX2 + F16C + FMA.
float dot_i8_avx2(const WView& W, std::int64_t o, const float* x);
float dot_i4_avx2(const WView& W, std::int64_t o, const float* xe, const float* xo);
float dot_f16_avx2(const WView& W, std::int64_t o, const float* x);
void f16_row_f16c(float* dst, const std::uint16_t* w, std::int64_t in);  // fp16 -> fp32

}  // namespace glm::kernels::cpu
