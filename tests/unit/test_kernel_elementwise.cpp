// The reductions of kernels/elementwise.h on odd sizes and sizes large enough for the
// multi-threaded path: sum_squares repeatable, all_finite finding a bad value at either end
// or the middle; scatter_add_rows on 16-bit tensors equal to the fp32 op on widened tensors
// rounded once. The ops against fp64, in every storage and on every backend, are op harness
// rows (test_ops_elementwise.cpp).
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

// Repeated destinations, rows of a destination far apart, widths that split across threads:
// the native 16-bit scatter adds each destination's rows in order in fp32 and rounds once,
// which is exactly the fp32 op on the widened tensors followed by one rounding.
TEST(Elementwise, SixteenBitScatterIsTheFp32OpRoundedOnce) {
  const std::int64_t R = 300, rows = 23;
  std::vector<std::int32_t> index(R);
  for (std::int64_t r = 0; r < R; ++r) index[r] = static_cast<std::int32_t>((r * 7 + r / 5) % rows);
  const Tensor idx = test::i32_tensor(index);
  for (DType t : {DType::bf16, DType::f16})
    for (std::int64_t h : {std::int64_t{5}, std::int64_t{67}, std::int64_t{1000}}) {
      const Tensor src = test::rounded(test::random_tensor({R, h}, 11), t);
      const Tensor dst0 = test::rounded(test::random_tensor({rows, h}, 12), t);
      Tensor dst = dst0.clone();
      scatter_add_rows(dst, src, idx);
      Tensor wide_dst = Tensor::empty({rows, h}, DType::f32), wide_src = Tensor::empty({R, h}, DType::f32);
      convert(wide_dst, dst0);
      convert(wide_src, src);
      scatter_add_rows(wide_dst, wide_src, idx);
      Tensor want = Tensor::empty({rows, h}, t);
      convert(want, wide_dst);
      EXPECT_EQ(std::memcmp(dst.raw(), want.raw(), dst.nbytes()), 0) << dtype_name(t) << " h " << h;
    }
}

}  // namespace
}  // namespace glm::kernels
