// The reductions of kernels/elementwise.h on odd sizes and sizes large enough for the
// multi-threaded path: sum_squares repeatable, all_finite finding a bad value at either end
// or the middle. The ops against fp64, in every storage and on every backend, are op harness
// rows (test_ops_elementwise.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

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

}  // namespace
}  // namespace glm::kernels
