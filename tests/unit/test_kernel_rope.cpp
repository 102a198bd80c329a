// Rotary position embedding (kernels/rope.h): forward against an fp64 reference, v left
// untouched, backward against finite differences and as the exact inverse rotation, and a
// 16-bit qkv rotated natively.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/convert.h"
#include "kernels/rope.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 5, A = 3, D = 6;
constexpr float kBase = 10000.f;
// Angles up to pos=1000 in fp32 lose ~1e-4 rad of absolute precision in pos*inv_freq
// (ulp(1000) = 6e-5), which the fp64 reference does not: 5e-4 absolute on values ~1.
constexpr double kRtol = 1e-4, kAtol = 5e-4;

TEST(Rope, ForwardMatchesReferenceAndLeavesValuesAlone) {
  Tensor qkv = test::random_tensor({R, A, 3, D}, 1);
  const Tensor orig = qkv.clone();
  Tensor pos = test::i32_tensor({0, 1, 7, 100, 1000});
  rope_forward(qkv, pos, kBase);
  std::vector<double> want = test::to_double(orig);
  const int half = D / 2;
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < A; ++h)
      for (int part = 0; part < 2; ++part) {  // q and k; v (part 2) unchanged
        const float* x = orig.data<float>() + ((r * A + h) * 3 + part) * D;
        double* y = want.data() + ((r * A + h) * 3 + part) * D;
        for (int i = 0; i < half; ++i) {
          const double theta = pos.data<std::int32_t>()[r] * std::pow(kBase, -2.0 * i / D);
          y[i] = x[i] * std::cos(theta) - x[i + half] * std::sin(theta);
          y[i + half] = x[i + half] * std::cos(theta) + x[i] * std::sin(theta);
        }
      }
  EXPECT_TRUE(test::all_close(qkv, want, kRtol, kAtol));
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < A; ++h)
      for (int i = 0; i < D; ++i) {
        const std::int64_t at = ((r * A + h) * 3 + 2) * D + i;
        ASSERT_EQ(qkv.data<float>()[at], orig.data<float>()[at]);
      }
}

TEST(Rope, BackwardMatchesFiniteDifferences) {
  Tensor x = test::random_tensor({R, A, 3, D}, 2), w = test::random_tensor({R, A, 3, D}, 3);
  Tensor pos = test::i32_tensor({3, 0, 12, 5, 40});
  Tensor y = x.clone();
  auto loss = [&] {
    y.copy_from(x);
    rope_forward(y, pos, kBase);
    return test::project(y, w);
  };
  Tensor dx = w.clone();
  rope_backward(dx, pos, kBase);
  EXPECT_TRUE(
      test::all_close(dx, test::finite_differences(x, loss, 1e-2f), test::kFdRtol, test::kFdAtol));
}

TEST(Rope, BackwardUndoesForward) {
  Tensor x = test::random_tensor({R, A, 3, D}, 4);
  Tensor pos = test::i32_tensor({9, 2, 77, 1, 0});
  Tensor y = x.clone();
  rope_forward(y, pos, kBase);
  rope_backward(y, pos, kBase);  // rotation is orthogonal: its transpose is its inverse
  EXPECT_TRUE(test::all_close(y, test::to_double(x), 1e-6, 1e-6));
}

// A 16-bit qkv is read and written natively (kernels/cpu/row16.h): bit for bit the fp32
// rotation of the widened values, rounded once, forward and backward.
TEST(Rope, SixteenBitStorageIsTheFp32OpRoundedOnce) {
  Tensor pos = test::i32_tensor({0, 1, 7, 100, 1000});
  for (DType t : {DType::bf16, DType::f16})
    for (bool forward : {true, false}) {
      Tensor x32 = test::random_tensor({R, A, 3, D}, 4), x = Tensor::empty(x32.shape(), t);
      convert(x, x32);
      convert(x32, x);
      (forward ? rope_forward : rope_backward)(x, pos, kBase);
      (forward ? rope_forward : rope_backward)(x32, pos, kBase);
      Tensor want = Tensor::empty(x.shape(), t);
      convert(want, x32);
      EXPECT_EQ(std::memcmp(x.raw(), want.raw(), x.nbytes()), 0) << dtype_name(t) << forward;
    }
}

}  // namespace
}  // namespace glm::kernels
