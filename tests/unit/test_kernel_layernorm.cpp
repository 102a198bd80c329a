// LayerNorm's backward (kernels/layernorm.h): bit-identical across runs on many rows and
// dbeta the column sum of dy. Forward and backward against fp64 and finite differences, in
// every storage and on every backend, are op harness rows (test_ops_norm_linear.cpp).
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/layernorm.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr float kEps = 1e-5f;

TEST(LayerNorm, BackwardIsDeterministicOnManyRows) {
  const std::int64_t rows = 301, h = 64;
  Tensor x = test::random_tensor({rows, h}, 31), gamma = test::random_tensor({h}, 32),
         beta = test::random_tensor({h}, 33), dy = test::random_tensor({rows, h}, 34);
  Tensor y = Tensor::empty({rows, h}, DType::f32), mean = Tensor::empty({rows}, DType::f32),
         rstd = Tensor::empty({rows}, DType::f32);
  layernorm_forward(y, mean, rstd, x, gamma, beta, kEps);
  Tensor dx1 = Tensor::empty({rows, h}, DType::f32), dg1 = Tensor::zeros({h}, DType::f32),
         db1 = Tensor::zeros({h}, DType::f32);
  Tensor dx2 = dx1.clone(), dg2 = dg1.clone(), db2 = db1.clone();
  layernorm_backward(dx1, dg1, db1, dy, nullptr, 0.f, x, mean, rstd, gamma);
  layernorm_backward(dx2, dg2, db2, dy, nullptr, 0.f, x, mean, rstd, gamma);
  EXPECT_EQ(0, std::memcmp(dg1.raw(), dg2.raw(), dg1.nbytes()));
  EXPECT_EQ(0, std::memcmp(db1.raw(), db2.raw(), db1.nbytes()));
  // dbeta is the column sum of dy.
  std::vector<double> want(h, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < h; ++j) want[j] += dy.data<float>()[r * h + j];
  EXPECT_TRUE(test::all_close(db1, want, 1e-5, 1e-6));
}

}  // namespace
}  // namespace glm::kernels
