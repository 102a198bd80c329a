// Op harness rows (op_harness.h) of the fp16 conversions (every fp16 pattern, and fp32 values
// over the whole fp16 range with its edges) and of the weight-only INT8/INT4 and fp16-weight
// linears against the fp64 product with the weights dequantized here from their bytes.
#include <cmath>
#include <random>

#include "kernels/convert.h"
#include "kernels/quant.h"
#include "op_harness.h"
#include "tests/test_util.h"

namespace glm::ops {
namespace {

namespace k = kernels;
using test::random_tensor;

// x (an fp32 value) rounded to binary16 (nearest, ties to even) in fp64: the ulp of x's binade
// (subnormal spacing 2^-24 below 2^-14), overflow to inf from 65520 (the midpoint of 65504
// and 2^16) on.
double round_to_binary16(double x) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  if (std::abs(x) >= 65520) return std::copysign(INFINITY, x);
  const int e = std::max(std::ilogb(x), -14);
  const double ulp = std::ldexp(1.0, e - 10);
  return std::nearbyint(x / ulp) * ulp;
}

// The binary16 bit pattern of a value that binary16 represents (not NaN).
double binary16_bits(double v) {
  const int sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::abs(v);
  if (std::isinf(a)) return sign | 0x7c00;
  if (a < std::ldexp(1.0, -14)) return sign | static_cast<int>(a / std::ldexp(1.0, -24));
  const int e = std::ilogb(a);
  return sign | ((e + 15) << 10) | static_cast<int>(a / std::ldexp(1.0, e - 10) - 1024);
}

// f32 -> f16 bits, those back to f32, and round_to_f16 in place, on random magnitudes
// 2^U(-30, 17) of both signs (subnormal, normal and overflowing) and the range's edges.
OpRow f32_to_f16_row() {
  constexpr int kRandom = 1 << 16;
  Tensor x = Tensor::empty({kRandom + 14}, DType::f32);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> e(-30.f, 17.f);
  for (int i = 0; i < kRandom; ++i) x.data<float>()[i] = (i % 2 ? -1.f : 1.f) * std::exp2(e(rng));
  const float edges[] = {0.f,          -0.f,         INFINITY,      -INFINITY,
                         65504.f,      65519.99f,    65520.f,       -65520.f,
                         0x1p-24f,     0x1p-25f,     0x1.8p-25f,    0x1.8p-24f,  // ties to even
                         0x1.ffcp-15f, 0x1.002p0f};
  for (int i = 0; i < 14; ++i) x.data<float>()[kRandom + i] = edges[i];
  const std::int64_t n = x.numel();
  OpRow row;
  row.inputs = {x};
  row.outputs = {{"f16 bits", {}, {}, true}, {"back to f32", {}, {}, true},
                 {"round_to_f16", {}, {}, true}};
  row.forward = [n](RowRun& r) {
    Tensor h = r.empty({n}, DType::f16), back = r.empty({n}), rounded = r.in[0].clone();
    k::f32_to_f16(h, r.in[0]);
    k::f16_to_f32(back, h);
    k::round_to_f16(rounded);
    return std::vector<Out>{{h}, {back}, {rounded}};
  };
  row.reference = [](const std::vector<Vec>& in) {
    Vec bits, back;
    for (double v : in[0]) {
      back.push_back(round_to_binary16(v));
      bits.push_back(binary16_bits(back.back()));
    }
    return std::vector<Vec>{bits, back, back};
  };
  return row;
}

// Every one of the 65536 fp16 patterns (NaNs included) to fp32.
OpRow f16_to_f32_row() {
  Tensor h = Tensor::empty({65536}, DType::f16);
  for (int i = 0; i < 65536; ++i) h.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(i);
  OpRow row;
  row.inputs = {h};
  row.outputs = {{"f32", {}, {}, true}};
  row.forward = [](RowRun& r) {
    Tensor f = r.empty({65536});
    k::f16_to_f32(f, r.in[0]);
    return std::vector<Out>{{f}};
  };
  row.reference = [](const std::vector<Vec>& in) {
    Vec f;
    for (double b : in[0]) f.push_back(half_bits_to_double(static_cast<std::uint16_t>(b)));
    return std::vector<Vec>{f};
  };
  return row;
}

// The quantized kernels sum exact products (q * fp16 scale and x are fp32 values) in fp32 in
// another order than the fp64 reference: each of the `in` additions errs by at most 2^-24 of
// the running magnitude, bounded by sum |w x|; random rounding grows like sqrt(in) * 2^-24.
// 1e-4 relative with a 1e-5 floor of the scale sits between that and the (in-1) * 2^-24
// worst case at in = 96..200 (the bound tests/cuda/test_cuda_quant.cpp states for CUDA).
constexpr Tol kQuant{1e-4, 1e-5};
constexpr const char* kQuantCpuOnly =
    "kernels/quant.h's kernels run on the CPU; on CUDA the stored_linear rows "
    "(test_ops_inference.cpp) and tests/cuda/test_cuda_quant.cpp check the INT8/INT4 kernels";

// y [n, out] = x [n, in] dequant(W)^T + b. bits 8: int8 q; 4: two nibbles a byte, low first;
// bits 16: W stored as fp16 (f16_linear_forward). Scales are fp16 bits per group of `in`.
OpRow quant_row(int bits, std::int64_t n, std::int64_t out, std::int64_t in, std::int64_t group,
                k::QuantIsa isa) {
  OpRow row;
  const Tensor x = random_tensor({n, in}, 201), W = random_tensor({out, in}, 202, -1, 1),
               b = random_tensor({out}, 203);
  std::int64_t G = in;
  if (bits == 16) {
    Tensor w16 = Tensor::empty({out, in}, DType::f16);
    k::f32_to_f16(w16, W);
    row.inputs = {x, w16, b};
  } else {
    k::QuantWeight q = k::quantize_weight(W, bits, group);
    G = q.group;
    row.inputs = {x, q.q, q.scales, b};
  }
  row.outputs = {{"y", kQuant, kQuant}};
  row.forward = [bits, n, out, in, G, isa](RowRun& r) {
    Tensor y = r.empty({n, out});
    if (bits == 16) {
      k::f16_linear_forward(y, r.in[0], r.in[1], &r.in[2], isa);
    } else {
      k::QuantWeight q;
      q.bits = bits;
      q.out = out;
      q.in = in;
      q.group = G;
      q.q = r.in[1];
      q.scales = r.in[2];
      k::quant_linear_forward(y, r.in[0], q, &r.in[3], isa);
    }
    return std::vector<Out>{{y}};
  };
  row.reference = [bits, n, out, in, G](const std::vector<Vec>& v) {
    Vec w(out * in);
    for (std::int64_t o = 0; o < out; ++o)
      for (std::int64_t i = 0; i < in; ++i) {
        if (bits == 16) {
          w[o * in + i] = half_bits_to_double(static_cast<std::uint16_t>(v[1][o * in + i]));
          continue;
        }
        double q;
        if (bits == 8) {
          q = v[1][o * in + i];
        } else {
          const int byte = static_cast<int>(v[1][o * (in / 2) + i / 2]);
          const int nib = i % 2 ? byte >> 4 : byte & 15;
          q = nib >= 8 ? nib - 16 : nib;
        }
        const double s = half_bits_to_double(static_cast<std::uint16_t>(v[2][o * (in / G) + i / G]));
        w[o * in + i] = q * s;
      }
    const Vec& bias = v[bits == 16 ? 2 : 3];
    Vec y(n * out);
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t o = 0; o < out; ++o) {
        double s = bias[o];
        for (std::int64_t i = 0; i < in; ++i) s += v[0][r * in + i] * w[o * in + i];
        y[r * out + o] = s;
      }
    return std::vector<Vec>{y};
  };
  return row;
}

std::vector<RowFactory> rows() {
  using I = k::QuantIsa;
  std::vector<RowFactory> r = {
      {"f32_to_f16_round_trip_round_to_f16", [] { return f32_to_f16_row(); }},
      {"f16_to_f32_every_pattern", [] { return f16_to_f32_row(); }},
  };
  // n = 1 (GEMV), 5 (small GEMM), 70 (> kQuantSmallBatch: the tiled prefill path); out = 37.
  for (const std::int64_t n : {1, 5, 70}) {
    const std::string s = "_n" + std::to_string(n) + "_out37";
    r.push_back({"quant_int8_rowwise" + s + "_in200",
                 [n] { return quant_row(8, n, 37, 200, 0, I::best); }, kQuantCpuOnly});
    r.push_back({"quant_int4_group32" + s + "_in96",
                 [n] { return quant_row(4, n, 37, 96, 32, I::best); }, kQuantCpuOnly});
    r.push_back({"f16_linear" + s + "_in90", [n] { return quant_row(16, n, 37, 90, 0, I::best); }, kQuantCpuOnly});
  }
  r.push_back({"quant_int4_group32_n5_out37_in96_reference_isa",
               [] { return quant_row(4, 5, 37, 96, 32, I::reference); }, kQuantCpuOnly});
  r.push_back({"quant_int8_group50_n1_out37_in200_reference_isa",
               [] { return quant_row(8, 1, 37, 200, 50, I::reference); }, kQuantCpuOnly});
  for (RowFactory& f : r)
    f.f32_only = "inputs are f16 bit patterns or packed weights; the conversions are the 16-bit path";
  return r;
}
GLM_OP_ROWS(rows);

}  // namespace
}  // namespace glm::ops
