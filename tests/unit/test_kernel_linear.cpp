// Linear layer ops (kernels/linear.h): a backward without dx computes the weight gradient
// alone. Forward and backward against fp64 and finite differences, with and without bias
// and with dx accumulating, in every storage and on every backend, are op harness rows
// (test_ops_norm_linear.cpp).
#include <gtest/gtest.h>

#include "kernels/linear.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 7, kIn = 37, kOut = 13;

TEST(Linear, NullDxSkipsInputGradient) {
  Tensor x = test::random_tensor({R, kIn}, 1), W = test::random_tensor({kOut, kIn}, 2),
         dy = test::random_tensor({R, kOut}, 5), dW = Tensor::zeros({kOut, kIn}, DType::f32);
  linear_backward(nullptr, dW, nullptr, dy, x, W);
  double s = 0;
  for (int r = 0; r < R; ++r)
    s += static_cast<double>(dy.data<float>()[r * kOut]) * x.data<float>()[r * kIn];
  EXPECT_NEAR(dW.data<float>()[0], s, 1e-5);
}

}  // namespace
}  // namespace glm::kernels
