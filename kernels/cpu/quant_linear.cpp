// Fused weight-only INT8 / INT4 / fp16 linears on the CPU (kernels/quant.h).
//
// What makes it fast:
// - Batch-1 decode is memory-bound: the GEMV streams each weight byte once and dequantizes
//   in registers. INT8: 16 bytes -> vpmovsxbd -> vcvtdq2ps -> FMA with x. INT4 (AVX-512):
//   16 bytes widened to 16 dword lanes; the low nibble of each lane indexes a 16-entry
//   float table with vpermps (which reads only the index's low 4 bits), the high nibble
//   after one shift: two table lookups give 32 weights without any int->float conversion.
//   Low nibbles are even elements and high nibbles odd ones, so x is split once per call
//   into its even and odd halves instead of interleaving weights; a group's fp16 scale is
//   folded into the 16-entry table. Four independent accumulators hide the FMA latency;
//   INT8 (and AVX2 INT4) scale each group's partial sum into a running vector (F16C);
//   rows are reduced horizontally once. Software prefetch 1 KB ahead keeps more misses in
//   flight than the hardware prefetcher alone (int8 GEMV on 4096x4096: 3.0 -> 1.8 ms on
//   one thread here). The row kernels live in quant_gemv_avx512.cpp / quant_gemv_avx2.cpp.
// - Small batches (n <= 64) dequantize one output row at a time into an L1-resident buffer
//   and reuse it for all n inputs (four inputs per pass share each buffer load).
// - Larger batches (prefill, evaluation) dequantize tiles of ~4 MB (>= 128 rows) and use
//   the fp32 GEMM.
// - QuantActivations::int8 (x rounded per block of 32, kernels/quant.h): with AVX-512 VNNI
//   and n <= 64, integer dot products on the packed weights (quant_gemv_vnni.cpp; INT4
//   GEMV about 2x the fp32 kernel's throughput from L2); elsewhere x is rounded
//   (quant_activations.cpp) and the fp32 paths below run on it, so every ISA computes the
//   same product up to fp32 rounding.
// Output rows are split over OpenMP threads. The plain loops (QuantIsa::reference) are the
// readable definition the tests compare with.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant_rows.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"

namespace glm::kernels {
using namespace cpu;

namespace {

#define GLM_CPU_HAS(feature) (__builtin_cpu_init(), __builtin_cpu_supports(feature))

// ---------------------------------------------------------------- reference (plain loops)

float ref_dot(const WView& W, std::int64_t o, const float* x) {
  float total = 0.f;
  for (std::int64_t g = 0; g < W.ng(); ++g) {
    float acc = 0.f;
    for (std::int64_t i = g * W.G; i < (g + 1) * W.G; ++i) {
      float w;
      switch (W.kind) {
        case WKind::i8:
          w = static_cast<const std::int8_t*>(W.w)[o * W.in + i];
          break;
        case WKind::i4:
          w = nibble(static_cast<const std::uint8_t*>(W.w)[o * (W.in / 2) + i / 2], i);
          break;
        default:
          w = half_to_float(static_cast<const std::uint16_t*>(W.w)[o * W.in + i]);
          break;
      }
      acc += x[i] * w;
    }
    total += W.kind == WKind::f16 ? acc : acc * half_to_float(W.s[o * W.ng() + g]);
  }
  return total;
}

// ---------------------------------------------------------------- row dequant + fp32 dots

bool have_f16c() {
  static const bool yes = GLM_CPU_HAS("f16c") && GLM_CPU_HAS("avx2");
  return yes;
}

// dst [in] = dequant(row o); GCC vectorises each clone (fp16 rows use F16C).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void dequant_row(float* dst,
                                                                                  const WView& W,
                                                                                  std::int64_t o) {
  const std::int64_t in = W.in, G = W.G, ng = W.ng();
  if (W.kind == WKind::f16) {
    const std::uint16_t* w = static_cast<const std::uint16_t*>(W.w) + o * in;
    if (have_f16c()) return f16_row_f16c(dst, w, in);
    for (std::int64_t i = 0; i < in; ++i) dst[i] = half_to_float(w[i]);
    return;
  }
  for (std::int64_t g = 0; g < ng; ++g) {
    const float s = half_to_float(W.s[o * ng + g]);
    float* d = dst + g * G;
    if (W.kind == WKind::i8) {
      const std::int8_t* q = static_cast<const std::int8_t*>(W.w) + o * in + g * G;
#pragma omp simd
      for (std::int64_t i = 0; i < G; ++i) d[i] = s * static_cast<float>(q[i]);
    } else {
      const std::uint8_t* q = static_cast<const std::uint8_t*>(W.w) + o * (in / 2) + g * G / 2;
#pragma omp simd
      for (std::int64_t j = 0; j < G / 2; ++j) {
        const auto b = static_cast<std::int8_t>(q[j]);
        d[2 * j] = s * static_cast<float>(static_cast<std::int8_t>(b << 4) >> 4);
        d[2 * j + 1] = s * static_cast<float>(b >> 4);
      }
    }
  }
}

// out[r] = dot(x_r, w) for 4 rows of x (stride ldx)
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void dot4(
    float* out, const float* x, std::int64_t ldx, const float* w, std::int64_t in) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (std::int64_t i = 0; i < in; ++i) {
    s0 += x0[i] * w[i];
    s1 += x1[i] * w[i];
    s2 += x2[i] * w[i];
    s3 += x3[i] * w[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) float dot1(const float* x,
                                                                            const float* w,
                                                                            std::int64_t in) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < in; ++i) s += x[i] * w[i];
  return s;
}

// ---------------------------------------------------------------- drivers

QuantIsa resolve(QuantIsa isa) {
  if (isa == QuantIsa::best)
    return quant_isa_available(QuantIsa::avx512) ? QuantIsa::avx512
           : quant_isa_available(QuantIsa::avx2) ? QuantIsa::avx2
                                                 : QuantIsa::reference;
  if (!quant_isa_available(isa))
    throw Error(
        fmt::format("quant kernels: ISA {} is not available on this CPU", quant_isa_name(isa)));
  return isa;
}

void gemv(float* y, const float* x, const WView& W, const float* b, QuantIsa isa) {
  // int4: x split into even and odd elements once per call (see the file comment)
  std::vector<float> xe, xo;
  if (W.kind == WKind::i4 && isa != QuantIsa::reference) {
    xe.resize(W.in / 2);
    xo.resize(W.in / 2);
    for (std::int64_t j = 0; j < W.in / 2; ++j) {
      xe[j] = x[2 * j];
      xo[j] = x[2 * j + 1];
    }
  }
  const std::int64_t out = W.out;
#pragma omp parallel for schedule(static) if (out * W.in > kParallelMin)
  for (std::int64_t o = 0; o < out; ++o) {
    float v;
    if (isa == QuantIsa::avx512) {
      v = W.kind == WKind::i8   ? dot_i8_avx512(W, o, x)
          : W.kind == WKind::i4 ? dot_i4_avx512(W, o, xe.data(), xo.data())
                                : dot_f16_avx512(W, o, x);
    } else if (isa == QuantIsa::avx2) {
      v = W.kind == WKind::i8   ? dot_i8_avx2(W, o, x)
          : W.kind == WKind::i4 ? dot_i4_avx2(W, o, xe.data(), xo.data())
                                : dot_f16_avx2(W, o, x);
    } else {
      v = ref_dot(W, o, x);
    }
    y[o] = v + (b ? b[o] : 0.f);
  }
}

void small_gemm(float* y, const float* x, std::int64_t n, const WView& W, const float* b) {
  const std::int64_t out = W.out, in = W.in;
#pragma omp parallel if (out * in > kParallelMin)
  {
    std::vector<float> row(in);  // one dequantized row, reused by all n inputs
    float part[4];
#pragma omp for schedule(static)
    for (std::int64_t o = 0; o < out; ++o) {
      dequant_row(row.data(), W, o);
      const float bias = b ? b[o] : 0.f;
      std::int64_t r = 0;
      for (; r + 4 <= n; r += 4) {
        dot4(part, x + r * in, in, row.data(), in);
        for (int k = 0; k < 4; ++k) y[(r + k) * out + o] = part[k] + bias;
      }
      for (; r < n; ++r) y[r * out + o] = dot1(x + r * in, row.data(), in) + bias;
    }
  }
}

void tiled_gemm(float* y, const float* x, std::int64_t n, const WView& W, const float* b) {
  // ~4 MB of fp32 tile (at least 128 rows): few GEMM calls, still cache-sized
  const std::int64_t out = W.out, in = W.in;
  const std::int64_t kTile = std::max<std::int64_t>(128, (std::int64_t{1} << 20) / in);
  std::vector<float> tile(static_cast<std::size_t>(std::min(kTile, out) * in));
  for (std::int64_t o0 = 0; o0 < out; o0 += kTile) {
    const std::int64_t rows = std::min(kTile, out - o0);
#pragma omp parallel for schedule(static) if (rows * in > kParallelMin)
    for (std::int64_t r = 0; r < rows; ++r) dequant_row(tile.data() + r * in, W, o0 + r);
    // y[:, o0:o0+rows] = x tile^T
    GemmArgs g;
    g.trans_a = Trans::N;
    g.trans_b = Trans::T;
    g.M = n;
    g.N = rows;
    g.K = in;
    g.A = x;
    g.lda = in;
    g.B = tile.data();
    g.ldb = in;
    g.C = y + o0;
    g.ldc = out;
    gemm(g);
  }
  if (b) {
#pragma omp parallel for schedule(static) if (n * out > kParallelMin)
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t o = 0; o < out; ++o) y[r * out + o] += b[o];
  }
}

// QuantActivations::int8 on AVX-512 VNNI, n <= 64: x rounded once per input row into the
// VNNI layout; each weight row is then read once for all n inputs (it stays in L1).
void vnni_linear(float* y, const float* x, std::int64_t n, const WView& W, const float* b) {
  std::vector<XQ> xq(n);
  for (std::int64_t r = 0; r < n; ++r) quantize_x_for_vnni(xq[r], x + r * W.in, W.in, W.kind);
  const std::int64_t out = W.out;
#pragma omp parallel for schedule(static) if (out * W.in > kParallelMin)
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t r = 0; r < n; ++r)
      y[r * out + o] = (W.kind == WKind::i4 ? dot_i4_vnni(W, o, xq[r]) : dot_i8_vnni(W, o, xq[r])) +
                       (b ? b[o] : 0.f);
}

void run_linear(Tensor& y, const Tensor& x, const WView& W, const Tensor* b, QuantIsa isa,
                QuantActivations act) {
  const std::int64_t n = rows_of(x);
  isa = resolve(isa);
  const float* bp = b ? b->data<float>() : nullptr;
  float* yp = y.data<float>();
  const float* xp = x.data<float>();
  if (n == 0) return;
  std::vector<float> xr;  // int8 activations without VNNI: the rounded x, exact kernels
  if (act == QuantActivations::int8 && W.kind != WKind::f16) {
    if (isa == QuantIsa::avx512 && n <= kQuantSmallBatch && quant_int8_dot_available() &&
        vnni_fits(W))
      return vnni_linear(yp, xp, n, W, bp);
    xr.assign(xp, xp + n * W.in);
    for (std::int64_t r = 0; r < n; ++r) round_x_int8(xr.data() + r * W.in, W.in);
    xp = xr.data();
  }
  if (isa == QuantIsa::reference) {
    for (std::int64_t r = 0; r < n; ++r) gemv(yp + r * W.out, xp + r * W.in, W, bp, isa);
  } else if (n == 1) {
    gemv(yp, xp, W, bp, isa);
  } else if (n <= kQuantSmallBatch) {
    small_gemm(yp, xp, n, W, bp);
  } else {
    tiled_gemm(yp, xp, n, W, bp);
  }
}

}  // namespace

bool quant_isa_available(QuantIsa isa) {
  switch (isa) {
    case QuantIsa::best:
    case QuantIsa::reference:
      return true;
    case QuantIsa::avx2:
      return GLM_CPU_HAS("avx2") && GLM_CPU_HAS("fma") && GLM_CPU_HAS("f16c");
    case QuantIsa::avx512:
      return GLM_CPU_HAS("avx512f") && GLM_CPU_HAS("avx512bw") && GLM_CPU_HAS("avx512vl") &&
             GLM_CPU_HAS("avx512dq") && GLM_CPU_HAS("f16c") && GLM_CPU_HAS("fma");
  }
  return false;
}

bool quant_int8_dot_available() {
  static const bool yes = quant_isa_available(QuantIsa::avx512) && GLM_CPU_HAS("avx512vnni");
  return yes;
}

std::string_view quant_isa_name(QuantIsa isa) {
  switch (isa) {
    case QuantIsa::best:
      return "best";
    case QuantIsa::avx512:
      return "avx512";
    case QuantIsa::avx2:
      return "avx2";
    case QuantIsa::reference:
      return "reference";
  }
  return "?";
}

namespace cpu {

void quant_linear_forward(Tensor& y, const Tensor& x, const QuantWeight& W, const Tensor* b,
                          QuantIsa isa, QuantActivations act) {
  WView v{W.bits == 8 ? WKind::i8 : WKind::i4, W.out, W.in, W.group, W.q.raw(),
          W.scales.data<std::uint16_t>()};
  run_linear(y, x, v, b, isa, act);
}

void f16_linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                        QuantIsa isa) {
  WView v{WKind::f16, W.size(0), W.size(1), W.size(1), W.raw(), nullptr};
  run_linear(y, x, v, b, isa, QuantActivations::fp32);
}

}  // namespace cpu
}  // namespace glm::kernels
