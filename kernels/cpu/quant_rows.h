// Internal to the CPU quant kernels (kernels/quant.h): the raw weight view the drivers in
// quant_linear.cpp hand to the per-ISA GEMV row kernels (quant_gemv_avx512.cpp,
// quant_gemv_avx2.cpp). A row kernel returns dot(x, dequant(W[o, :])) with the weights
// dequantized in registers; int4 kernels take x split into its even and odd elements.
// The VNNI kernels (quant_gemv_vnni.cpp) take x rounded to int8 (QuantActivations::int8)
// in the layout of XQ below, built by quant_activations.cpp.
#pragma once

#include <cstdint>
#include <vector>

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
// The VNNI kernels consume a cache line in a third of the time: twice the distance
// (measured here: 1024 -> 2048 bytes lifts the int4 GEMV from memory by ~10%).
constexpr int kPrefetchVnni = 2048;

// One row of x rounded to int8 per block of kActivationBlock (32), laid out for the VNNI
// kernels. A chunk is one 64-byte weight vector: 64 int8 weights or 128 int4 weights; its
// 16 dword lanes each sum 4 (int8) or 8 (int4) products, all from one x block. The arrays
// are zero-padded to whole chunks, so a masked weight load ends a row without tails.
struct XQ {
  std::int64_t chunks = 0;
  std::vector<std::int8_t> q0, q1;  // int8 W: q0 = xq [chunks*64]; int4 W: q0/q1 = xq of the
                                    // even/odd elements [chunks*64] (byte j <-> weight byte j)
  std::vector<float> lane_scale;    // [chunks*16] sx of the lane's block
  std::vector<std::int32_t> lane_bias;  // int4: -8 * (sum of the lane's 8 xq) [chunks*16]
};
// Rounds x [in] (int8 mode) into xq for weights of kind `kind` (i8 or i4).
void quantize_x_for_vnni(XQ& xq, const float* x, std::int64_t in, WKind kind);
// x [in] rounded in place to sx * xq (the definition both layouts follow).
void round_x_int8(float* x, std::int64_t in);

// Compiled for AVX-512 (F, BW, VL, DQ) + F16C + FMA; call only where the CPU has them.
float dot_i8_avx512(const WView& W, std::int64_t o, const float* x);
float dot_i4_avx512(const WView& W, std::int64_t o, const float* xe, const float* xo);
float dot_f16_avx512(const WView& W, std::int64_t o, const float* x);
// Compiled for AVX2 + F16C + FMA.
float dot_i8_avx2(const WView& W, std::int64_t o, const float* x);
float dot_i4_avx2(const WView& W, std::int64_t o, const float* xe, const float* xo);
float dot_f16_avx2(const WView& W, std::int64_t o, const float* x);
void f16_row_f16c(float* dst, const std::uint16_t* w, std::int64_t in);  // fp16 -> fp32
// Compiled for AVX-512 + VNNI: dot(sx * xq, dequant(W[o, :])) with int32 dot products.
// Only for vnni_fits(W): G a whole number of lanes and lanes per group dividing 16 or a
// multiple of 16 (int4: G in {8, 16, 32, 64} or a multiple of 128 or per-row; int8: G in
// {4, 8, 16, 32} or a multiple of 64 or per-row).
bool vnni_fits(const WView& W);
float dot_i8_vnni(const WView& W, std::int64_t o, const XQ& x);
float dot_i4_vnni(const WView& W, std::int64_t o, const XQ& x);

}  // namespace glm::kernels::cpu
