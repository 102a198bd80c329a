// Linear layer ops (kernels/linear.h): forward and backward against plain fp64 loops, the
// accumulate contract, and the backward against finite differences.
#include <gtest/gtest.h>

#include "kernels/linear.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 7, kIn = 37, kOut = 13;
// fp32 GEMM against fp64 loops with K <= 37: a few ulp of the row magnitude.
constexpr double kRtol = 1e-5, kAtol = 1e-5;

TEST(Linear, ForwardMatchesReferenceWithAndWithoutBias) {
  Tensor x = test::random_tensor({R, kIn}, 1), W = test::random_tensor({kOut, kIn}, 2),
         b = test::random_tensor({kOut}, 3);
  for (bool with_bias : {true, false}) {
    Tensor y = test::random_tensor({R, kOut}, 4);  // garbage must be overwritten
    linear_forward(y, x, W, with_bias ? &b : nullptr);
    std::vector<double> want(R * kOut);
    for (int r = 0; r < R; ++r)
      for (int o = 0; o < kOut; ++o) {
        double acc = with_bias ? b.data<float>()[o] : 0.0;
        for (int i = 0; i < kIn; ++i)
          acc += static_cast<double>(x.data<float>()[r * kIn + i]) * W.data<float>()[o * kIn + i];
        want[r * kOut + o] = acc;
      }
    EXPECT_TRUE(test::all_close(y, want, kRtol, kAtol)) << "bias " << with_bias;
  }
}

TEST(Linear, BackwardMatchesReferenceAndAccumulates) {
  Tensor x = test::random_tensor({R, kIn}, 1), W = test::random_tensor({kOut, kIn}, 2),
         dy = test::random_tensor({R, kOut}, 5);
  Tensor dW = test::random_tensor({kOut, kIn}, 6), db = test::random_tensor({kOut}, 7),
         dx = test::random_tensor({R, kIn}, 8);
  const auto dW0 = test::to_double(dW), db0 = test::to_double(db), dx0 = test::to_double(dx);
  for (bool acc_dx : {false, true}) {
    Tensor dxx = dx.clone(), dWW = dW.clone(), dbb = db.clone();
    linear_backward(&dxx, dWW, &dbb, dy, x, W, acc_dx);
    std::vector<double> want_dx(R * kIn), want_dW(kOut * kIn), want_db(kOut);
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < kIn; ++i) {
        double s = acc_dx ? dx0[r * kIn + i] : 0.0;
        for (int o = 0; o < kOut; ++o)
          s += static_cast<double>(dy.data<float>()[r * kOut + o]) * W.data<float>()[o * kIn + i];
        want_dx[r * kIn + i] = s;
      }
    for (int o = 0; o < kOut; ++o) {
      double sb = db0[o];
      for (int r = 0; r < R; ++r) sb += dy.data<float>()[r * kOut + o];
      want_db[o] = sb;
      for (int i = 0; i < kIn; ++i) {
        double s = dW0[o * kIn + i];
        for (int r = 0; r < R; ++r)
          s += static_cast<double>(dy.data<float>()[r * kOut + o]) * x.data<float>()[r * kIn + i];
        want_dW[o * kIn + i] = s;
      }
    }
    EXPECT_TRUE(test::all_close(dxx, want_dx, kRtol, kAtol)) << "accumulate_dx " << acc_dx;
    EXPECT_TRUE(test::all_close(dWW, want_dW, kRtol, kAtol));
    EXPECT_TRUE(test::all_close(dbb, want_db, kRtol, kAtol));
  }
}

TEST(Linear, BackwardMatchesFiniteDifferences) {
  Tensor x = test::random_tensor({R, kIn}, 11), W = test::random_tensor({kOut, kIn}, 12),
         b = test::random_tensor({kOut}, 13), w = test::random_tensor({R, kOut}, 14);
  Tensor y = Tensor::empty({R, kOut}, DType::f32);
  auto loss = [&] {
    linear_forward(y, x, W, &b);
    return test::project(y, w);
  };
  Tensor dx = Tensor::empty({R, kIn}, DType::f32), dW = Tensor::zeros({kOut, kIn}, DType::f32),
         db = Tensor::zeros({kOut}, DType::f32);
  linear_backward(&dx, dW, &db, w, x, W);
  const float eps = 1e-2f;
  EXPECT_TRUE(
      test::all_close(dx, test::finite_differences(x, loss, eps), test::kFdRtol, test::kFdAtol));
  EXPECT_TRUE(
      test::all_close(dW, test::finite_differences(W, loss, eps), test::kFdRtol, test::kFdAtol));
  EXPECT_TRUE(
      test::all_close(db, test::finite_differences(b, loss, eps), test::kFdRtol, test::kFdAtol));
}

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
