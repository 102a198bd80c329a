// fp16 <-> fp32 conversion (kernels/convert.h): exhaustive over all 65536 half bit patterns,
// float -> half against an fp64 round-to-nearest-even reference on random floats including
// subnormals and overflow, and bit-identity with the scalar core/half.h.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "core/half.h"
#include "kernels/convert.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

bool is_nan_half(std::uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }

TEST(Convert, AllHalfPatternsConvertExactlyAndRoundTrip) {
  const std::int64_t n = 65536;
  Tensor h = Tensor::empty({n}, DType::f16), f = Tensor::empty({n}, DType::f32),
         back = Tensor::empty({n}, DType::f16);
  for (std::int64_t i = 0; i < n; ++i) h.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(i);
  f16_to_f32(f, h);
  f32_to_f16(back, f);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto bits = static_cast<std::uint16_t>(i);
    const float got = f.data<float>()[i];
    if (is_nan_half(bits)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
      ASSERT_TRUE(is_nan_half(back.data<std::uint16_t>()[i])) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(half_to_float(bits)))
        << std::hex << bits;
    ASSERT_EQ(back.data<std::uint16_t>()[i], bits) << std::hex << bits;
  }
}

// The fp16 value nearest to x (ties to even), computed in fp64; inf beyond the fp16 range.
double reference_half_value(float x) {
  const double ax = std::abs(static_cast<double>(x));
  if (ax >= 65520.0) return std::copysign(INFINITY, x);  // halfway to 2^16 rounds up
  int e = ax > 0 ? std::ilogb(ax) : -14;
  e = std::max(e, -14);  // subnormals share the exponent of 2^-14
  const double ulp = std::ldexp(1.0, e - 10);
  const double q = std::nearbyint(ax / ulp);  // the current mode is round-half-even
  return std::copysign(q * ulp, x);
}

TEST(Convert, FloatToHalfRoundsToNearestEvenIncludingSubnormalsAndOverflow) {
  std::mt19937 rng(7);
  std::vector<float> xs;
  for (int i = 0; i < 200000; ++i) {
    // Random sign, exponent 2^-30..2^17 (fp16 subnormals, normals and overflow), mantissa.
    const std::uint32_t sign = (rng() & 1u) << 31, exp = 97 + rng() % 48, man = rng() & 0x7FFFFFu;
    xs.push_back(std::bit_cast<float>(sign | (exp << 23) | man));
  }
  // Exact ties and edge values.
  for (float v :
       {65504.f, 65519.99f, 65520.f, 1e6f, 0.f, -0.f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f,
        6.1035156e-5f, 1.f + 1.f / 2048, 1.f + 3.f / 2048, INFINITY, -INFINITY})
    xs.push_back(v);
  const auto n = static_cast<std::int64_t>(xs.size());
  Tensor f = Tensor::wrap(xs.data(), {n}, DType::f32), h = Tensor::empty({n}, DType::f16);
  f32_to_f16(h, f);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint16_t got = h.data<std::uint16_t>()[i];
    const double want = reference_half_value(xs[i]);
    ASSERT_EQ(static_cast<double>(half_to_float(got)), want) << "x = " << xs[i];
    ASSERT_EQ(got >> 15, std::bit_cast<std::uint32_t>(xs[i]) >> 31) << "sign of " << xs[i];
    ASSERT_EQ(got, float_to_half(xs[i])) << "x = " << xs[i];
  }
}

TEST(Convert, RoundToF16MatchesScalarOnOddLengths) {
  for (std::int64_t n : {1, 7, 8, 13, 70001}) {  // tails and the multi-threaded path
    Tensor x = test::random_tensor({n}, n, -70000.f, 70000.f);
    for (std::int64_t i = 0; i < n; i += 3) x.data<float>()[i] *= 1e-6f;  // small values too
    const Tensor orig = x.clone();
    round_to_f16(x);
    for (std::int64_t i = 0; i < n; ++i) {
      const float want = round_to_half(orig.data<float>()[i]);
      ASSERT_EQ(std::bit_cast<std::uint32_t>(x.data<float>()[i]),
                std::bit_cast<std::uint32_t>(want))
          << "n=" << n << " i=" << i << " x=" << orig.data<float>()[i];
    }
  }
}

TEST(Convert, NanStaysNan) {
  float xs[9] = {NAN, -NAN, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, NAN};
  Tensor f = Tensor::wrap(xs, {9}, DType::f32), h = Tensor::empty({9}, DType::f16);
  f32_to_f16(h, f);
  for (int i : {0, 1, 8}) EXPECT_TRUE(is_nan_half(h.data<std::uint16_t>()[i]));
  round_to_f16(f);
  for (int i : {0, 1, 8}) EXPECT_TRUE(std::isnan(xs[i]));
}

}  // namespace
}  // namespace glm::kernels
