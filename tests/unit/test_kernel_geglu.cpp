// GeGLU (kernels/geglu.h) at pre-activations far into GELU's saturated tails. Forward and
// backward against fp64 and finite differences, in every storage and on every backend, are
// op harness rows (test_ops_norm_linear.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/geglu.h"
#include "test_kernel_util.h"

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
