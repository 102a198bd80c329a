// Global gradient-norm pieces (optim/grad_clip.h): fp64 sums against a plain loop, bit-exact
// for any thread count, shard sums adding up, and clipping to the stated norm.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/elementwise.h"
#include "optim/grad_clip.h"

namespace glm::optim {
namespace {

// fp64 sums of ~1e5 terms of size ~1: a different summation order changes the result by a
// few ulps of the total (n * 2^-53 relative at worst, ~1e-11); 1e-12 relative is the
// typical bound for blocked sums and 1e-10 is safely above any order effect.
constexpr double kSumRelTol = 1e-10;
// Scaling by a float coefficient rounds each element once (2^-24 relative), and the
// coefficient itself is rounded to float: the clipped norm is max_norm within ~1e-7.
constexpr double kClippedNormRelTol = 1e-6;
constexpr std::int64_t kOddSize = 3 * kSumBlock + 1237;  // several blocks and a ragged end

Tensor random_grad(std::int64_t n, std::uint64_t seed, float amp) {
  Tensor t = Tensor::empty({n}, DType::f32);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-amp, amp);
  for (std::int64_t i = 0; i < n; ++i) t.data<float>()[i] = u(rng);
  return t;
}

double plain_sum_squares(const Tensor& t, std::int64_t b, std::int64_t e) {
  double s = 0;
  for (std::int64_t i = b; i < e; ++i)
    s += static_cast<double>(t.data<float>()[i]) * t.data<float>()[i];
  return s;
}

TEST(GradClip, SumOfSquaresMatchesAPlainDoubleLoop) {
  Tensor g = random_grad(kOddSize, 1, 2.f);
  const double want = plain_sum_squares(g, 0, kOddSize);
  EXPECT_NEAR(local_sum_squares(g), want, kSumRelTol * want);
  const modeldef::ElementRange r{17, kOddSize - 333};
  const double want_r = plain_sum_squares(g, r.begin, r.end);
  EXPECT_NEAR(local_sum_squares(g, r), want_r, kSumRelTol * want_r);
}

TEST(GradClip, SumOfSquaresIsBitIdenticalForAnyThreadCount) {
  Tensor g = random_grad(40 * kSumBlock + 11, 2, 1.f);  // enough blocks to run in parallel
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = local_sum_squares(g);
  omp_set_num_threads(std::max(3, threads));
  const double many = local_sum_squares(g);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, many);
}

TEST(GradClip, ShardSumsAddUpToTheWholeSum) {
  Tensor g = random_grad(kOddSize, 3, 1.f);
  const std::int64_t cut1 = kOddSize / 3 + 5, cut2 = 2 * kOddSize / 3 - 9;
  const double parts = local_sum_squares(g, {0, cut1}) + local_sum_squares(g, {cut1, cut2}) +
                       local_sum_squares(g, {cut2, kOddSize});
  const double whole = local_sum_squares(g);
  EXPECT_NEAR(parts, whole, kSumRelTol * whole);
}

TEST(GradClip, CoefficientIsMinOfOneAndMaxNormOverNorm) {
  EXPECT_DOUBLE_EQ(clip_coefficient(0.5, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(clip_coefficient(4.0, 1.0), 1.0 / (4.0 + kClipEps));
  EXPECT_DOUBLE_EQ(clip_coefficient(1.0, 1.0), 1.0 / (1.0 + kClipEps));  // just below 1
  EXPECT_DOUBLE_EQ(clip_coefficient(100.0, 0.0), 1.0);                   // clipping off
  EXPECT_DOUBLE_EQ(clip_coefficient(std::numeric_limits<double>::infinity(), 1.0), 1.0);
}

// What the trainer does with the pieces (train/step.cpp folds the coefficient into the
// optimizer's update; here it scales the gradient itself): returns the norm before clipping.
double clip_in_place(Tensor& g, double max_norm) {
  const double norm = std::sqrt(local_sum_squares(g));
  const double coeff = clip_coefficient(norm, max_norm);
  if (coeff != 1.0) kernels::scale(g, static_cast<float>(coeff));
  return norm;
}

TEST(GradClip, LargeGradientIsScaledToTheMaxNorm) {
  Tensor g = random_grad(kOddSize, 4, 1.f);
  const double before = std::sqrt(local_sum_squares(g));
  ASSERT_GT(before, 10.0);
  const double returned = clip_in_place(g, 1.0);
  EXPECT_DOUBLE_EQ(returned, before);  // the norm before clipping, as logged
  EXPECT_NEAR(std::sqrt(local_sum_squares(g)), 1.0, kClippedNormRelTol);
}

TEST(GradClip, SmallGradientIsLeftBitIdentical) {
  Tensor g = random_grad(kOddSize, 5, 1e-4f);
  const Tensor before = g.clone();
  ASSERT_LT(clip_in_place(g, 1.0), 1.0);
  EXPECT_TRUE(std::equal(g.data<float>(), g.data<float>() + g.numel(), before.data<float>()));
}

TEST(GradClip, NonFiniteGradientMakesTheSumNonFinite) {
  Tensor g = random_grad(kOddSize, 6, 1.f);
  g.data<float>()[kOddSize - 1] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(std::isfinite(local_sum_squares(g)));
  g.data<float>()[kOddSize - 1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(std::isfinite(local_sum_squares(g)));
  g.data<float>()[kOddSize - 1] = std::numeric_limits<float>::max();  // finite: no overflow
  EXPECT_TRUE(std::isfinite(local_sum_squares(g)));
}

}  // namespace
}  // namespace glm::optim
