// Elementwise ops and reductions (kernels/elementwise.h) against plain loops, on odd sizes
// and on sizes large enough for the multi-threaded path; 16-bit storage read natively.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

const std::int64_t kSizes[] = {1, 37, 100003};

TEST(Elementwise, ScaledAddAxpyAndScaleMatchReference) {
  for (std::int64_t n : kSizes) {
    Tensor a = test::random_tensor({n}, 1), b = test::random_tensor({n}, 2),
           y = test::random_tensor({n}, 3);
    std::vector<double> want(n);
    scaled_add(y, 1.5f, a, b);
    for (std::int64_t i = 0; i < n; ++i) want[i] = 1.5 * a.data<float>()[i] + b.data<float>()[i];
    ASSERT_TRUE(test::all_close(y, want, 1e-6, 1e-7)) << n;
    axpy(y, -0.25f, a);
    for (std::int64_t i = 0; i < n; ++i) want[i] += -0.25 * a.data<float>()[i];
    ASSERT_TRUE(test::all_close(y, want, 1e-6, 1e-7)) << n;
    scale(y, 3.f);
    for (std::int64_t i = 0; i < n; ++i) want[i] *= 3;
    ASSERT_TRUE(test::all_close(y, want, 1e-6, 1e-7)) << n;
  }
}

TEST(Elementwise, SumSquaresIsAccurateAndDeterministic) {
  for (std::int64_t n : kSizes) {
    Tensor x = test::random_tensor({n}, 4, -3.f, 3.f);
    double want = 0;
    for (std::int64_t i = 0; i < n; ++i)
      want += static_cast<double>(x.data<float>()[i]) * x.data<float>()[i];
    const double got = sum_squares(x);
    EXPECT_NEAR(got, want, 1e-12 * want) << n;  // fp64 accumulation of exact fp32 squares
    EXPECT_EQ(got, sum_squares(x));
  }
}

TEST(Elementwise, AllFiniteFindsInfAndNanAnywhere) {
  for (std::int64_t n : kSizes) {
    Tensor x = test::random_tensor({n}, 5, -1e30f, 1e30f);
    EXPECT_TRUE(all_finite(x));
    for (float bad :
         {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
          std::numeric_limits<float>::quiet_NaN()})
      for (std::int64_t at : {std::int64_t{0}, n / 2, n - 1}) {
        const float keep = x.data<float>()[at];
        x.data<float>()[at] = bad;
        EXPECT_FALSE(all_finite(x)) << "n=" << n << " at " << at << " value " << bad;
        x.data<float>()[at] = keep;
      }
    x.data<float>()[0] = std::numeric_limits<float>::max();  // largest finite stays finite
    EXPECT_TRUE(all_finite(x));
  }
}

TEST(Elementwise, GatherAndScatterAddRowsWithRepeatedIndices) {
  const std::int64_t rows = 11, h = 37, R = 9;
  Tensor src = test::random_tensor({rows, h}, 6);
  Tensor index = test::i32_tensor({3, 3, 0, 10, 5, 3, 10, 1, 2});
  Tensor out = Tensor::empty({R, h}, DType::f32);
  gather_rows(out, src, index);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < h; ++j)
      ASSERT_EQ(out.data<float>()[r * h + j],
                src.data<float>()[index.data<std::int32_t>()[r] * h + j]);
  Tensor dst = test::random_tensor({rows, h}, 7), g = test::random_tensor({R, h}, 8);
  std::vector<double> want = test::to_double(dst);
  scatter_add_rows(dst, g, index);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < h; ++j)
      want[index.data<std::int32_t>()[r] * h + j] += g.data<float>()[r * h + j];
  EXPECT_TRUE(test::all_close(dst, want, 1e-6, 1e-7));
}

// scaled_add and gather_rows read and write 16-bit storage natively (kernels/cpu/row16.h):
// bit for bit the fp32 op on the widened values, rounded once, for mixes of dtypes.
TEST(Elementwise, SixteenBitScaledAddAndGatherAreTheFp32OpRoundedOnce) {
  for (DType t : {DType::bf16, DType::f16})
    for (DType other : {t, DType::f32}) {
      const std::string what = fmt::format("{} with {}", dtype_name(t), dtype_name(other));
      for (std::int64_t n : kSizes) {
        Tensor a = test::rounded(test::random_tensor({n}, 1), t);
        Tensor b = test::rounded(test::random_tensor({n}, 2), other);
        Tensor y = Tensor::empty({n}, t), y32 = Tensor::empty({n}, DType::f32);
        scaled_add(y, 1.7f, a, b);
        scaled_add(y32, 1.7f, test::rounded(a, DType::f32), test::rounded(b, DType::f32));
        EXPECT_TRUE(test::same_bytes(y, test::rounded(y32, t))) << what << " n " << n;
      }
      Tensor src = test::rounded(test::random_tensor({9, 70}, 3), other);
      Tensor index = test::i32_tensor({8, 0, 3, 3, 1});
      Tensor out = Tensor::empty({5, 70}, t), out32 = Tensor::empty({5, 70}, DType::f32);
      gather_rows(out, src, index);
      gather_rows(out32, test::rounded(src, DType::f32), index);
      EXPECT_TRUE(test::same_bytes(out, test::rounded(out32, t))) << what;
    }
}

}  // namespace
}  // namespace glm::kernels
