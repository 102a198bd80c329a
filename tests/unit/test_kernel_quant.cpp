// INT8 / INT4 weight quantization and the fused quantized linears (kernels/quant.h):
// packing round trips, the exact bit layout, and every kernel path (GEMV, small GEMM,
// tiled GEMM; AVX-512, AVX-512 VNNI, AVX2, reference) against dequantize-then-fp64 naive
// products on odd shapes, with fp32 activations and with activations rounded to int8.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/quant.h"
#include "test_kernel_util.h"

namespace glm {
namespace {

using kernels::QuantActivations;
using kernels::QuantIsa;
using kernels::QuantWeight;

// y = x W^T + b in fp64 over an fp32 W (the dequantized weights).
std::vector<double> naive_linear(const Tensor& x, const Tensor& W, const Tensor* b) {
  const std::int64_t n = x.size(0), in = x.size(1), out = W.size(0);
  std::vector<double> y(n * out);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      double s = b ? b->data<float>()[o] : 0.0;
      for (std::int64_t i = 0; i < in; ++i)
        s += double(x.data<float>()[r * in + i]) * W.data<float>()[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

// Accumulation in fp32 over `in` <= 130 terms of size ~1: relative error a few 1e-6 of the
// output's scale; 2e-5 leaves room for the different summation orders of the paths.
constexpr double kLinearAtol = 2e-5;

std::vector<QuantIsa> isas() {
  std::vector<QuantIsa> v{QuantIsa::reference};
  if (kernels::quant_isa_available(QuantIsa::avx2)) v.push_back(QuantIsa::avx2);
  if (kernels::quant_isa_available(QuantIsa::avx512)) v.push_back(QuantIsa::avx512);
  return v;
}

TEST(QuantPack, RoundTripErrorWithinHalfScale) {
  for (int bits : {8, 4})
    for (std::int64_t G : {0, 32, 2}) {
      Tensor W = test::random_tensor({37, 96}, 11 + bits + G, -0.3f, 0.3f);
      W.data<float>()[5] = 0.f;
      QuantWeight q = kernels::quantize_weight(W, bits, G);
      const std::int64_t g = G == 0 ? 96 : G;
      ASSERT_EQ(q.group, g);
      ASSERT_EQ(q.scales.shape(), (Shape{37, 96 / g}));
      Tensor D = Tensor::empty({37, 96}, DType::f32);
      kernels::dequantize_weight(D, q);
      for (std::int64_t o = 0; o < 37; ++o)
        for (std::int64_t i = 0; i < 96; ++i) {
          const float s = half_to_float(q.scales.data<std::uint16_t>()[o * (96 / g) + i / g]);
          const float w = W.data<float>()[o * 96 + i], d = D.data<float>()[o * 96 + i];
          // |w - q s| <= s/2 by rounding; the clamp at qmax costs at most qmax*s*2^-11 < s/2
          // (the fp16 rounding of the scale), so s/2 plus fp32 rounding of the product.
          ASSERT_LE(std::abs(w - d), s / 2 * (1 + 1e-5) + 1e-7)
              << "bits " << bits << " G " << g << " at " << o << "," << i;
        }
    }
}

TEST(QuantPack, ScalesAreAbsmaxOverQmaxInFp16) {
  Tensor W = test::random_tensor({5, 64}, 3);
  W.data<float>()[64 * 2 + 40] = -2.5f;  // row 2, group 1 of G=32
  for (int bits : {8, 4}) {
    QuantWeight q = kernels::quantize_weight(W, bits, 32);
    const float qmax = bits == 8 ? 127.f : 7.f;
    EXPECT_EQ(q.scales.data<std::uint16_t>()[2 * 2 + 1], float_to_half(2.5f / qmax));
    EXPECT_EQ(q.qmax(), static_cast<int>(qmax));
  }
}

TEST(QuantPack, Int4NibblesAreLowFirstTwosComplement) {
  // Row with absmax 7 so the scale is exactly 1 and q == w.
  Tensor W = Tensor::zeros({1, 8}, DType::f32);
  const float vals[8] = {7, -8 + 1, 3, -1, 0, 2, -4, 5};
  for (int i = 0; i < 8; ++i) W.data<float>()[i] = vals[i];
  QuantWeight q = kernels::quantize_weight(W, 4, 0);
  ASSERT_EQ(half_to_float(q.scales.data<std::uint16_t>()[0]), 1.f);
  const std::uint8_t* b = q.q.data<std::uint8_t>();
  EXPECT_EQ(b[0], 0x97);  // element 0 = 7 (low), element 1 = -7 = 0x9 (high)
  EXPECT_EQ(b[1], 0xF3);  // 3, -1
  EXPECT_EQ(b[2], 0x20);  // 0, 2
  EXPECT_EQ(b[3], 0x5C);  // -4 = 0xC, 5
}

TEST(QuantPack, PackedValuesRoundTripExactly) {
  // Weights that are exactly q * s re-quantize to the same packed bytes and scales.
  for (int bits : {8, 4}) {
    Tensor W = test::random_tensor({37, 96}, 7);
    QuantWeight q = kernels::quantize_weight(W, bits, 32);
    Tensor D = Tensor::empty({37, 96}, DType::f32);
    kernels::dequantize_weight(D, q);
    QuantWeight q2 = kernels::quantize_weight(D, bits, 32);
    ASSERT_EQ(q.q.nbytes(), q2.q.nbytes());
    EXPECT_EQ(0, std::memcmp(q.q.raw(), q2.q.raw(), q.q.nbytes())) << "bits " << bits;
    EXPECT_EQ(0, std::memcmp(q.scales.raw(), q2.scales.raw(), q.scales.nbytes()));
  }
}

TEST(QuantPack, BadGroupSizesAreRefused) {
  Tensor W = test::random_tensor({4, 96}, 1);
  EXPECT_THROW(kernels::quantize_weight(W, 8, 40), InputError);  // does not divide 96
  EXPECT_THROW(kernels::quantize_weight(W, 4, 3), InputError);   // odd for int4
  EXPECT_THROW(kernels::quantize_weight(W, 5, 0), InputError);   // bits
  EXPECT_NO_THROW(kernels::quantize_weight(W, 8, 3));            // odd is fine for int8
}

struct LinearCase {
  std::int64_t out, in, group;
};

TEST(QuantLinear, FusedKernelsMatchDequantizedReference) {
  const LinearCase cases[] = {{37, 96, 32}, {37, 130, 0}, {37, 96, 0}, {19, 256, 128}, {8, 200, 8}};
  for (const LinearCase& c : cases)
    for (int bits : {8, 4})
      for (std::int64_t n : {1, 3, 17, 64, 70}) {
        Tensor W = test::random_tensor({c.out, c.in}, c.out * 7 + c.in + bits);
        Tensor x = test::random_tensor({n, c.in}, n + 100);
        Tensor b = test::random_tensor({c.out}, 5);
        QuantWeight q = kernels::quantize_weight(W, bits, c.group);
        Tensor D = Tensor::empty({c.out, c.in}, DType::f32);
        kernels::dequantize_weight(D, q);
        auto want = naive_linear(x, D, &b);
        for (QuantIsa isa : isas()) {
          Tensor y = Tensor::empty({n, c.out}, DType::f32);
          kernels::quant_linear_forward(y, x, q, &b, isa);
          EXPECT_TRUE(test::all_close(y.data<float>(), want, 0, kLinearAtol))
              << "bits " << bits << " out " << c.out << " in " << c.in << " G " << c.group << " n "
              << n << " isa " << kernels::quant_isa_name(isa);
        }
        // no bias
        Tensor y = Tensor::empty({n, c.out}, DType::f32);
        kernels::quant_linear_forward(y, x, q, nullptr);
        EXPECT_TRUE(test::all_close(y.data<float>(), naive_linear(x, D, nullptr), 0, kLinearAtol));
      }
}

TEST(QuantLinear, Fp16WeightsMatchReference) {
  for (std::int64_t in : {96, 130, 7})
    for (std::int64_t n : {1, 3, 17, 64, 70}) {
      Tensor W = test::random_tensor({37, in}, in);
      Tensor W16 = Tensor::empty({37, in}, DType::f16), D = Tensor::empty({37, in}, DType::f32);
      for (std::int64_t i = 0; i < W.numel(); ++i) {
        W16.data<std::uint16_t>()[i] = float_to_half(W.data<float>()[i]);
        D.data<float>()[i] = round_to_half(W.data<float>()[i]);
      }
      Tensor x = test::random_tensor({n, in}, n);
      Tensor b = test::random_tensor({37}, 9);
      auto want = naive_linear(x, D, &b);
      for (QuantIsa isa : isas()) {
        Tensor y = Tensor::empty({n, 37}, DType::f32);
        kernels::f16_linear_forward(y, x, W16, &b, isa);
        EXPECT_TRUE(test::all_close(y.data<float>(), want, 0, kLinearAtol))
            << "in " << in << " n " << n << " isa " << kernels::quant_isa_name(isa);
      }
    }
}

TEST(QuantLinear, LargeShapeUsesThreadsAndMatches) {
  // Big enough for the OpenMP paths (out * in > 32K) and the 128-row tiles.
  Tensor W = test::random_tensor({300, 512}, 21);
  for (int bits : {8, 4}) {
    QuantWeight q = kernels::quantize_weight(W, bits, 128);
    Tensor D = Tensor::empty({300, 512}, DType::f32);
    kernels::dequantize_weight(D, q);
    for (std::int64_t n : {1, 5, 80}) {
      Tensor x = test::random_tensor({n, 512}, 3 * n);
      Tensor y = Tensor::empty({n, 300}, DType::f32);
      kernels::quant_linear_forward(y, x, q, nullptr);
      // 512 terms: twice the budget of the small shapes
      EXPECT_TRUE(test::all_close(y.data<float>(), naive_linear(x, D, nullptr), 0, 2 * kLinearAtol))
          << "bits " << bits << " n " << n;
    }
  }  // in = 4096: the tiled path cuts 300 rows into tiles of 256 + 44
  Tensor Wl = test::random_tensor({300, 4096}, 22);
  Tensor x = test::random_tensor({70, 4096}, 23);
  for (int bits : {8, 4}) {
    QuantWeight q = kernels::quantize_weight(Wl, bits, 64);
    Tensor D = Tensor::empty({300, 4096}, DType::f32);
    kernels::dequantize_weight(D, q);
    Tensor y = Tensor::empty({70, 300}, DType::f32);
    kernels::quant_linear_forward(y, x, q, nullptr);
    // 4096 terms: error grows ~sqrt(in); 8x the small shapes' budget
    EXPECT_TRUE(test::all_close(y.data<float>(), naive_linear(x, D, nullptr), 0, 8 * kLinearAtol))
        << "bits " << bits;
  }
}

// ------------------------------------------------------------ int8 activations

// absmax of x's block (kActivationBlock elements along the row) holding element i of row r
float block_absmax(const Tensor& x, std::int64_t r, std::int64_t i) {
  const std::int64_t in = x.size(1), b0 = i / kernels::kActivationBlock * kernels::kActivationBlock;
  float m = 0.f;
  for (std::int64_t k = b0; k < std::min(in, b0 + kernels::kActivationBlock); ++k)
    m = std::max(m, std::abs(x.data<float>()[r * in + k]));
  return m;
}

// x with a different scale in every block (1e-3 .. 1e2) and one all-zero block: each block's
// rounding must use its own absmax.
Tensor ragged_activations(std::int64_t n, std::int64_t in, std::uint64_t seed) {
  Tensor x = test::random_tensor({n, in}, seed);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t i = 0; i < in; ++i) {
      const std::int64_t blk = i / kernels::kActivationBlock;
      x.data<float>()[r * in + i] *= blk == 1 ? 0.f : std::pow(10.f, float((blk + r) % 6) - 3.f);
    }
  return x;
}

TEST(QuantActivations, Int8RoundingIsPerBlockAndWithinHalfAStep) {
  for (std::int64_t in : {130, 96, 7}) {
    Tensor x = ragged_activations(3, in, in);
    Tensor xr = Tensor::empty({3, in}, DType::f32);
    kernels::round_activations_int8(xr, x);
    for (std::int64_t r = 0; r < 3; ++r)
      for (std::int64_t i = 0; i < in; ++i) {
        const float amax = block_absmax(x, r, i), sx = amax / 127.f;
        const float v = x.data<float>()[r * in + i], got = xr.data<float>()[r * in + i];
        // |x - sx q| <= sx / 2, plus fp32 rounding of x / sx and of sx * q (a few ulp of amax)
        ASSERT_LE(std::abs(got - v), sx / 2 + 4e-7f * amax) << "in " << in << " at " << r << "," << i;
        // an integer multiple of sx in [-127, 127]
        const double q = sx > 0 ? got / double(sx) : 0.0;
        ASSERT_LE(std::abs(q - std::nearbyint(q)), 1e-4) << "in " << in << " at " << r << "," << i;
        ASSERT_LE(std::abs(q), 127.0 + 1e-4);
        if (amax == 0.f) ASSERT_EQ(got, 0.f);
      }
  }
}

// The int8-activation mode computes the exact product with the rounded x: every path (VNNI
// integer dots, or the fp32 kernels on the rounded x) must match the fp64 product of the
// rounded x and the dequantized weights within the fp32 budget of the exact mode. Shapes
// reach every VNNI weight-scale layout: per-row (in 130: a 2-byte / 2-element tail chunk),
// groups of whole chunks (int4 G 128, int8 G 64 and 128), several groups per chunk (int4 G 8,
// 16, 32, 64; int8 G 8, 16, 32) with the last chunk's scales masked, and shapes that do not
// fit (int8 G 3, 40) and take the rounded-x fp32 path.
TEST(QuantLinear, Int8ActivationsMatchRoundedReference) {
  struct Case {
    int bits;
    std::int64_t out, in, group;
  };
  const Case cases[] = {{4, 37, 96, 32},  {4, 37, 130, 0},  {4, 19, 256, 128}, {4, 8, 200, 8},
                        {4, 11, 320, 64}, {4, 6, 176, 16},  {8, 37, 96, 32},   {8, 37, 130, 0},
                        {8, 19, 256, 128}, {8, 8, 200, 8},  {8, 11, 320, 64},  {8, 6, 176, 16},
                        {8, 5, 120, 3},   {8, 7, 200, 40}};
  for (const Case& c : cases)
    for (std::int64_t n : {1, 3, 17, 64, 70}) {
      Tensor W = test::random_tensor({c.out, c.in}, c.out * 7 + c.in + c.bits);
      Tensor x = ragged_activations(n, c.in, n + 200);
      Tensor b = test::random_tensor({c.out}, 5);
      QuantWeight q = kernels::quantize_weight(W, c.bits, c.group);
      Tensor D = Tensor::empty({c.out, c.in}, DType::f32);
      kernels::dequantize_weight(D, q);
      Tensor xr = Tensor::empty({n, c.in}, DType::f32);
      kernels::round_activations_int8(xr, x);
      const auto want = naive_linear(xr, D, &b);
      const auto exact = naive_linear(x, D, &b);
      for (QuantIsa isa : isas()) {
        Tensor y = Tensor::empty({n, c.out}, DType::f32);
        kernels::quant_linear_forward(y, x, q, &b, isa, QuantActivations::int8);
        const std::string where = fmt::format("bits {} out {} in {} G {} n {} isa {}", c.bits,
                                              c.out, c.in, c.group, n,
                                              kernels::quant_isa_name(isa));
        EXPECT_TRUE(test::all_close(y.data<float>(), want, 0, kLinearAtol)) << where;
        // Against the unrounded x: |y - y_exact| <= sum_i |w_i| * sx_i / 2, sx_i = the absmax
        // of i's block / 127 (the bound the rounding guarantees), plus the fp32 budget.
        double worst_excess = -1;
        for (std::int64_t r = 0; r < n; ++r)
          for (std::int64_t o = 0; o < c.out; ++o) {
            double bound = kLinearAtol;
            for (std::int64_t i = 0; i < c.in; ++i)
              bound += std::abs(D.data<float>()[o * c.in + i]) * block_absmax(x, r, i) / 254.0;
            const double err = std::abs(y.data<float>()[r * c.out + o] - exact[r * c.out + o]);
            worst_excess = std::max(worst_excess, err - bound);
          }
        EXPECT_LE(worst_excess, 0) << where;
      }
    }
}

TEST(QuantLinear, Int8ActivationsChangeTheResultOnlyByTheRounding) {
  // The mode must round (else the tests above prove nothing about the int8 path), and at
  // in = 4096 under threads it still matches the rounded reference.
  Tensor W = test::random_tensor({300, 4096}, 31);
  for (int bits : {8, 4})
    for (std::int64_t group : {0, 128, 64}) {
      QuantWeight q = kernels::quantize_weight(W, bits, group);
      Tensor D = Tensor::empty({300, 4096}, DType::f32);
      kernels::dequantize_weight(D, q);
      for (std::int64_t n : {1, 5}) {
        Tensor x = test::random_tensor({n, 4096}, 7 * n + group);
        Tensor xr = Tensor::empty({n, 4096}, DType::f32);
        kernels::round_activations_int8(xr, x);
        Tensor y = Tensor::empty({n, 300}, DType::f32), y32 = Tensor::empty({n, 300}, DType::f32);
        kernels::quant_linear_forward(y, x, q, nullptr, QuantIsa::best, QuantActivations::int8);
        kernels::quant_linear_forward(y32, x, q, nullptr);
        // 4096 terms: the large-shape budget of LargeShapeUsesThreadsAndMatches
        EXPECT_TRUE(
            test::all_close(y.data<float>(), naive_linear(xr, D, nullptr), 0, 8 * kLinearAtol))
            << "bits " << bits << " G " << group << " n " << n;
        // x ~ U(-1, 1): the rounding moves outputs of size ~10 by ~1e-2, far above 8e-5
        double moved = 0;
        for (std::int64_t i = 0; i < y.numel(); ++i)
          moved = std::max(moved, double(std::abs(y.data<float>()[i] - y32.data<float>()[i])));
        EXPECT_GT(moved, 20 * 8 * kLinearAtol) << "bits " << bits << " G " << group;
      }
    }
}

}  // namespace
}  // namespace glm
