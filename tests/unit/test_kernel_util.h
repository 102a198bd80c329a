// Helpers shared by the kernel tests (tests/unit/test_kernel_*.cpp): a comparison that
// reports the worst element and central finite differences (random tensors come from
// tests/test_util.h). References live in each test file as plain loops with fp64
// accumulation.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/convert.h"
#include "tests/test_util.h"

namespace glm::test {

// x converted to dtype t (rounded to nearest even when narrower): what a 16-bit tensor holds,
// or its values widened to fp32.
inline Tensor rounded(const Tensor& x, DType t) {
  Tensor y = Tensor::empty(x.shape(), t);
  kernels::convert(y, x);
  return y;
}

using test::same_bytes;

inline std::vector<double> to_double(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<double>(p, p + t.numel());
}

// Element-wise |actual - expected| <= rtol * |expected| + atol * max|expected|: relative
// per element, with a floor relative to the tensor's scale (for values near zero).
inline ::testing::AssertionResult all_close(const float* actual,
                                            const std::vector<double>& expected, double rtol,
                                            double atol) {
  double scale = 0;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  double worst = -1;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    double err = std::abs(actual[i] - expected[i]);
    double tol = rtol * std::abs(expected[i]) + atol * scale;
    if (!(err <= tol) && err - tol > worst) {  // !(<=) also catches NaN
      worst = std::isnan(err) ? 1e300 : err - tol;
      worst_i = i;
    }
  }
  if (worst < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst_i << ": got " << actual[worst_i]
                                       << ", expected " << expected[worst_i] << " (scale " << scale
                                       << ", rtol " << rtol << ", atol " << atol << ")";
}
inline ::testing::AssertionResult all_close(const Tensor& actual,
                                            const std::vector<double>& expected, double rtol,
                                            double atol) {
  if (actual.numel() != static_cast<std::int64_t>(expected.size()))
    return ::testing::AssertionFailure() << "size " << actual.numel() << " vs " << expected.size();
  return all_close(actual.data<float>(), expected, rtol, atol);
}

// sum(w * y) in fp64: the random projection objective the gradient tests use.
inline double project(const Tensor& y, const Tensor& w) {
  double s = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i)
    s += static_cast<double>(y.data<float>()[i]) * w.data<float>()[i];
  return s;
}

// Central differences of loss() with respect to every element of x (perturbed in place).
inline std::vector<double> finite_differences(Tensor& x, const std::function<double()>& loss,
                                              float eps) {
  std::vector<double> g(x.numel());
  float* p = x.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float orig = p[i];
    p[i] = orig + eps;
    const double up = loss();
    p[i] = orig - eps;
    const double down = loss();
    p[i] = orig;
    // Divide by the perturbation actually applied (orig +- eps is rounded to fp32).
    g[i] = (up - down) / (static_cast<double>(orig + eps) - static_cast<double>(orig - eps));
  }
  return g;
}

// Tolerances for fp32 kernels against central differences with eps ~ 1e-2..1e-3: the
// truncation error is O(eps^2 f''') ~ 1e-4 relative and fp32 rounding of the objective
// (~1e-7 * |L|) divided by 2*eps adds ~1e-5 of the gradient scale; 1e-2 relative with a
// 1e-3 floor of the largest gradient leaves a wide margin while catching any wrong term
// (a missing or doubled term is an O(1) error).
constexpr double kFdRtol = 1e-2;
constexpr double kFdAtol = 1e-3;

}  // namespace glm::test
