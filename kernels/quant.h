// Weight-only quantization for inference (docs/design.md section 8): the INT8/INT4 weight format
// that glm-export writes and the CPU (and CUDA) kernels read, and fused linears that
// dequantize weights in registers inside the matrix product.
//
// Format (fixed: the CUDA kernels in kernels/cuda/quant_* read the same bytes). A linear
// weight W is [out, in] row-major fp32 (y = x W^T + b). Symmetric absmax per output row with
// a group size G along `in` (G = in for per-row; G divides in, and is even for int4):
//   scale[o][g] = absmax(W[o, g*G : (g+1)*G]) / qmax     qmax = 127 (int8) or 7 (int4)
//                 stored as fp16 bits (uint16) in [out, in/G]
//   q[o][i]     = clamp(round_half_away_from_zero(W[o][i] / s), -qmax, qmax)
//                 s = float(fp16 scale) (a zero scale gives q = 0)
//   int8: int8 [out, in];  int4: two's-complement nibbles, two per byte, LOW NIBBLE FIRST
//         (element 2j in bits 0-3 of byte j of the row, 2j+1 in bits 4-7): u8 [out, in/2]
//   dequantized value = q * float(scale)
//
// Kernels (y [n, out] = x [n, in] * dequant(W)^T (+ b), fp32 x and y, accumulation in fp32):
//   n == 1       GEMV: OpenMP over output rows, weights dequantized in registers
//                (AVX-512 / AVX2 chosen at run time, a plain loop otherwise)
//   n <= 64      small GEMM: each output row is dequantized once into an L1-resident row
//                buffer and reused by all n inputs (never a copy of the whole matrix)
//   n > 64       prefill / evaluation: blocks of rows (>= 128, ~4 MB) are dequantized into
//                a per-call tile and multiplied with the fp32 GEMM (kernels/gemm.h)
// The same three shapes exist for fp16-stored weights (F16C conversion), for fp16 exports.
//
// Activations (QuantActivations): `fp32` (the default) multiplies the exact fp32 x; `int8`
// first rounds x like llama.cpp's Q8_0: per input row, blocks of 32 along `in` (the last
// may be shorter), sx = absmax(block) / 127, xq = round_half_even(x / sx) in [-127, 127],
// and every path then computes the product with sx * xq (round_activations_int8 below).
// On AVX-512 VNNI CPUs, n <= 64 then runs integer dot products (vpdpbusd, int32 sums, one
// fp32 scale per lane of 4 or 8 weights): about twice the INT4 GEMV throughput of the fp32
// kernels, which at 4 bits are bound by the nibble -> float conversion, not by memory.
// The price is the rounding of x: |y_int8 - y_fp32| <= sum_i |w_i| * absmax(block of i) / 254
// per output; per element the rms error is 0.23% of its block's absmax (Q8_0 in
// llama.cpp). Callers choose: the fp32 mode is bit-for-bit what it always was.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace glm::kernels {

inline constexpr int kQuantSmallBatch = 64;  // largest n the small-GEMM path takes

// A quantized weight: the packed values and their scales (views or owned host tensors).
struct QuantWeight {
  int bits = 8;  // 8 or 4
  std::int64_t out = 0, in = 0;
  std::int64_t group = 0;  // G: elements per scale along `in` (= in for per-row)
  Tensor q;                // bits 8: i8 [out, in];  bits 4: u8 [out, in/2]
  Tensor scales;           // f16 [out, in/G]
  std::int64_t groups() const { return group > 0 ? in / group : 0; }
  int qmax() const { return bits == 8 ? 127 : 7; }
  std::int64_t weight_bytes() const { return q.nbytes() + scales.nbytes(); }
};

// The kernel implementations; `best` picks the widest the CPU supports at run time.
enum class QuantIsa { best, avx512, avx2, reference };
bool quant_isa_available(QuantIsa isa);
std::string_view quant_isa_name(QuantIsa isa);

// How x enters the INT8/INT4 products (see above): exact, or rounded to int8 per block of 32.
enum class QuantActivations { fp32, int8 };
inline constexpr int kActivationBlock = 32;  // elements of x per int8 scale
// True where QuantActivations::int8 runs integer dot products (AVX-512 VNNI present).
bool quant_int8_dot_available();

// Checks (out, in, G, bits) against the format rules; InputError naming `what` otherwise.
// group 0 means per-row (G = in).
std::int64_t resolve_group_size(std::int64_t in, std::int64_t group, int bits,
                                std::string_view what);

// W f32 [out, in] -> a new QuantWeight (group 0 = per-row).
QuantWeight quantize_weight(const Tensor& W, int bits, std::int64_t group);
// W f32 [out, in] = dequant(q): the reference every kernel is tested against.
void dequantize_weight(Tensor& W, const QuantWeight& q);

// xr f32 [n, in] = x rounded as QuantActivations::int8 rounds it (sx * xq per block): the
// reference the int8-activation kernels are tested against.
void round_activations_int8(Tensor& xr, const Tensor& x);

// Checks W against the format above (bits, group, q and scales dtypes and shapes); a
// GLM_CHECK naming `op` otherwise.
void require_quant_weight(std::string_view op, const QuantWeight& W);

// y f32 [n, out] = x f32 [n, in] * dequant(W)^T + b (b f32 [out] or null). On a CUDA device
// (kernels/cuda/quant_gemm.h) x and b are fp16 and y is f32 or f16; `isa` and `act` are the
// CPU's choices.
void quant_linear_forward(Tensor& y, const Tensor& x, const QuantWeight& W, const Tensor* b,
                          QuantIsa isa = QuantIsa::best,
                          QuantActivations act = QuantActivations::fp32);
// The same with fp16-stored weights W f16 [out, in].
void f16_linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                        QuantIsa isa = QuantIsa::best);

}  // namespace glm::kernels
