// INT8 / INT4 weight quantization and the fused quantized linears (kernels/quant.h):
// packing round trips, the exact bit layout, and every kernel path (GEMV, small GEMM,
// tiled GEMM; AVX-512, AVX2, reference) against dequantize-then-fp64 naive products on
// odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/quant.h"
#include "test_kernel_util.h"

namespace glm {
namespace {

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

}  // namespace
}  // namespace glm
