// GeGLU (kernels/geglu.h): forward and backward against fp64 formulas (std::tanh), and the
// backward against finite differences, over inputs that reach GELU's saturated tails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/convert.h"
#include "kernels/geglu.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 7, F = 37;
// The kernel's tanh (via a polynomial exp) is accurate to ~2e-7 absolute: 1e-5 relative plus
// 1e-6 of the scale is a comfortable bound.
constexpr double kRtol = 1e-5, kAtol = 1e-6;

double gelu(double z) {
  return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
}
double gelu_grad(double z) {
  const double k = std::sqrt(2 / M_PI), t = std::tanh(k * (z + 0.044715 * z * z * z));
  return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z);
}

TEST(GeGLU, ForwardMatchesReference) {
  Tensor u = test::random_tensor({R, 2 * F}, 1, -6.f, 6.f);
  Tensor g = Tensor::empty({R, F}, DType::f32);
  geglu_forward(g, u);
  std::vector<double> want(R * F);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < F; ++j)
      want[r * F + j] = u.data<float>()[r * 2 * F + j] * gelu(u.data<float>()[r * 2 * F + F + j]);
  EXPECT_TRUE(test::all_close(g, want, kRtol, kAtol));
}

TEST(GeGLU, BackwardMatchesReference) {
  Tensor u = test::random_tensor({R, 2 * F}, 2, -6.f, 6.f), dg = test::random_tensor({R, F}, 3);
  Tensor du = test::random_tensor({R, 2 * F}, 4);  // overwritten
  geglu_backward(du, dg, u);
  std::vector<double> want(R * 2 * F);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < F; ++j) {
      const double x1 = u.data<float>()[r * 2 * F + j], z = u.data<float>()[r * 2 * F + F + j],
                   d = dg.data<float>()[r * F + j];
      want[r * 2 * F + j] = d * gelu(z);
      want[r * 2 * F + F + j] = d * x1 * gelu_grad(z);
    }
  EXPECT_TRUE(test::all_close(du, want, kRtol, kAtol));
}

TEST(GeGLU, BackwardMatchesFiniteDifferences) {
  Tensor u = test::random_tensor({R, 2 * F}, 5, -4.f, 4.f), w = test::random_tensor({R, F}, 6);
  Tensor g = Tensor::empty({R, F}, DType::f32), du = Tensor::empty({R, 2 * F}, DType::f32);
  auto loss = [&] {
    geglu_forward(g, u);
    return test::project(g, w);
  };
  geglu_backward(du, w, u);
  EXPECT_TRUE(
      test::all_close(du, test::finite_differences(u, loss, 1e-2f), test::kFdRtol, test::kFdAtol));
}

}  // namespace
}  // namespace glm::kernels

namespace glm::kernels {
namespace {

// Regression: once a pre-activation above ~10 overflowed an intermediate exp(2y) to inf and
// GELU returned inf or NaN (0 * inf), which ended a real training run in NaN losses.
TEST(GeGLU, LargePreActivationsStayFiniteAndSaturate) {
  const float zs[] = {-1e4f, -100.f, -20.f, -9.9f, 9.9f, 20.f, 100.f, 1e4f};
  const std::int64_t f = 8;
  Tensor u = Tensor::empty({1, 2 * f}, DType::f32), g = Tensor::empty({1, f}, DType::f32);
  Tensor dg = Tensor::empty({1, f}, DType::f32), du = Tensor::empty({1, 2 * f}, DType::f32);
  for (std::int64_t j = 0; j < f; ++j) {
    u.data<float>()[j] = 0.5f;          // x1
    u.data<float>()[f + j] = zs[j];     // x2
    dg.data<float>()[j] = 1.f;
  }
  geglu_forward(g, u);
  geglu_backward(du, dg, u);
  for (std::int64_t j = 0; j < f; ++j) {
    const float z = zs[j], gelu = z > 0 ? z : 0.f;  // saturated GELU
    EXPECT_TRUE(std::isfinite(g.data<float>()[j])) << z;
    EXPECT_NEAR(g.data<float>()[j], 0.5f * gelu, 1e-5f * std::abs(z)) << z;
    EXPECT_NEAR(du.data<float>()[j], gelu, 1e-5f * std::abs(z)) << z;          // dx1 = GELU(z)
    EXPECT_NEAR(du.data<float>()[f + j], z > 0 ? 0.5f : 0.f, 1e-5f) << z;      // x1 * GELU'(z)
  }
}

}  // namespace
}  // namespace glm::kernels

namespace glm::kernels {
namespace {

// 16-bit storage is read natively (kernels/cpu/row16.h): every output must equal, bit for
// bit, the fp32 op on the widened inputs rounded once, which is what Wide computes.
TEST(GeGLU, SixteenBitStorageIsTheFp32OpRoundedOnce) {
  for (DType t : {DType::bf16, DType::f16}) {
    const std::int64_t R = 37, f = 77;
    Tensor u32 = test::random_tensor({R, 2 * f}, 5), dg32 = test::random_tensor({R, f}, 6);
    Tensor u = Tensor::empty(u32.shape(), t), dg = Tensor::empty(dg32.shape(), t);
    convert(u, u32);
    convert(dg, dg32);
    convert(u32, u);  // the values the 16-bit tensors hold
    convert(dg32, dg);
    Tensor g = Tensor::empty({R, f}, t), g32 = Tensor::empty({R, f}, DType::f32);
    geglu_forward(g, u);
    geglu_forward(g32, u32);
    Tensor want = Tensor::empty({R, f}, t);
    convert(want, g32);
    EXPECT_EQ(std::memcmp(g.raw(), want.raw(), g.nbytes()), 0) << dtype_name(t);

    Tensor du = Tensor::empty(u.shape(), t), du32 = Tensor::empty(u.shape(), DType::f32);
    geglu_backward(du, dg, u);
    geglu_backward(du32, dg32, u32);
    Tensor dwant = Tensor::empty(u.shape(), t);
    convert(dwant, du32);
    EXPECT_EQ(std::memcmp(du.raw(), dwant.raw(), du.nbytes()), 0) << dtype_name(t);
  }
}

}  // namespace
}  // namespace glm::kernels
