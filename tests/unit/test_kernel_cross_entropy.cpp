// Fused softmax + cross-entropy (kernels/cross_entropy.h): loss and gradient against an
// fp64 reference, the gradient against finite differences, ignored rows (target -1), bad
// targets as InputErrors, stability for large logits, and 16-bit logits read natively.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/convert.h"
#include "kernels/cross_entropy.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 7, V = 101;
// exp via a ~2 ulp polynomial and fp32 sums over 101 terms: ~1e-6 relative.
constexpr double kRtol = 1e-5, kAtol = 1e-6;

void reference(const Tensor& logits, const std::vector<std::int32_t>& targets, float grad_scale,
               std::vector<double>& loss, std::vector<double>& grad) {
  loss.assign(R, 0.0);
  grad.assign(R * V, 0.0);
  for (int r = 0; r < R; ++r) {
    if (targets[r] < 0) continue;
    const float* x = logits.data<float>() + r * V;
    double m = x[0], s = 0;
    for (int j = 0; j < V; ++j) m = std::max(m, static_cast<double>(x[j]));
    for (int j = 0; j < V; ++j) s += std::exp(x[j] - m);
    loss[r] = std::log(s) + m - x[targets[r]];
    for (int j = 0; j < V; ++j)
      grad[r * V + j] = grad_scale * (std::exp(x[j] - m) / s - (j == targets[r] ? 1.0 : 0.0));
  }
}

TEST(CrossEntropy, LossAndGradientMatchReference) {
  const std::vector<std::int32_t> tg = {0, 100, 50, 3, 77, 3, 12};
  Tensor logits = test::random_tensor({R, V}, 1, -8.f, 8.f);
  std::vector<double> want_loss, want_grad;
  reference(logits, tg, 0.25f, want_loss, want_grad);
  Tensor losses = Tensor::empty({R}, DType::f32);
  Tensor l2 = logits.clone();
  softmax_cross_entropy(losses, l2, test::i32_tensor(tg), 0.25f, false);
  EXPECT_TRUE(test::all_close(losses, want_loss, kRtol, kAtol));
  EXPECT_EQ(0, std::memcmp(l2.raw(), logits.raw(), logits.nbytes()))
      << "write_grad=false must not touch logits";
  softmax_cross_entropy(losses, l2, test::i32_tensor(tg), 0.25f, true);
  EXPECT_TRUE(test::all_close(losses, want_loss, kRtol, kAtol));
  EXPECT_TRUE(test::all_close(l2, want_grad, kRtol, kAtol));
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  const std::vector<std::int32_t> tg = {4, 0, 100, 9, 9, 60, 33};
  Tensor logits = test::random_tensor({R, V}, 2, -3.f, 3.f),
         losses = Tensor::empty({R}, DType::f32);
  const float grad_scale = 0.5f;
  auto loss = [&] {
    Tensor l = logits.clone();
    softmax_cross_entropy(losses, l, test::i32_tensor(tg), grad_scale, false);
    double s = 0;
    for (int r = 0; r < R; ++r) s += grad_scale * static_cast<double>(losses.data<float>()[r]);
    return s;
  };
  Tensor grad = logits.clone();
  softmax_cross_entropy(losses, grad, test::i32_tensor(tg), grad_scale, true);
  EXPECT_TRUE(test::all_close(grad, test::finite_differences(logits, loss, 1e-2f), test::kFdRtol,
                              test::kFdAtol));
}

TEST(CrossEntropy, NegativeTargetRowIsIgnored) {
  Tensor logits = test::random_tensor({R, V}, 3), losses = test::random_tensor({R}, 4);
  const std::vector<std::int32_t> tg = {1, -1, 2, 3, -1, 5, 6};
  softmax_cross_entropy(losses, logits, test::i32_tensor(tg), 1.f, true);
  for (int r : {1, 4}) {
    EXPECT_EQ(losses.data<float>()[r], 0.f);
    for (int j = 0; j < V; ++j) ASSERT_EQ(logits.data<float>()[r * V + j], 0.f);
  }
  EXPECT_GT(losses.data<float>()[0], 0.f);
}

TEST(CrossEntropy, TargetOutsideVocabularyIsInputErrorNamingRowAndValue) {
  Tensor logits = test::random_tensor({R, V}, 3), losses = Tensor::empty({R}, DType::f32);
  try {
    softmax_cross_entropy(losses, logits, test::i32_tensor({1, 2, 3, 4, 5, 101, 6}), 1.f, true);
    FAIL() << "target 101 >= V must throw";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("row 5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("101"), std::string::npos) << msg;
  }
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  Tensor logits = test::random_tensor({R, V}, 5, 1e4f, 1e4f + 10.f),
         losses = Tensor::empty({R}, DType::f32);
  const std::vector<std::int32_t> tg = {0, 1, 2, 3, 4, 5, 6};
  std::vector<double> want_loss, want_grad;
  reference(logits, tg, 1.f, want_loss, want_grad);
  softmax_cross_entropy(losses, logits, test::i32_tensor(tg), 1.f, true);
  // Logits near 1e4 carry an fp32 ulp of 1e-3, which the loss inherits (m - x[t]).
  EXPECT_TRUE(test::all_close(losses, want_loss, 1e-4, 1e-4));
  EXPECT_TRUE(test::all_close(logits, want_grad, 1e-4, 1e-5));
}

// 16-bit logits are read and written natively (kernels/cpu/row16.h): losses and gradients
// must equal, bit for bit, the fp32 op on the widened logits with the gradient rounded once.
// Plain and vocab-parallel (one shard: the combine is the identity), with an ignored row.
TEST(CrossEntropy, SixteenBitLogitsAreTheFp32OpRoundedOnce) {
  const std::vector<std::int32_t> tg = {0, 100, -1, 3, 77, 3, 12};
  const Tensor targets = test::i32_tensor(tg);
  for (DType t : {DType::bf16, DType::f16}) {
    for (bool sharded : {false, true}) {
      Tensor z = Tensor::empty({R, V}, t), z32 = test::random_tensor({R, V}, 9, -8.f, 8.f);
      convert(z, z32);
      convert(z32, z);  // the values the 16-bit logits hold
      Tensor loss = Tensor::empty({R}, DType::f32), loss32 = Tensor::empty({R}, DType::f32);
      auto run = [&](Tensor& losses, Tensor& logits) {
        if (!sharded) return softmax_cross_entropy(losses, logits, targets, 0.5f, true);
        Tensor row_max = Tensor::empty({R}, DType::f32), totals = Tensor::empty({R, 2}, DType::f32);
        sharded_ce_row_max(row_max, logits);
        sharded_ce_partials(totals, logits, targets, row_max, 0);
        sharded_ce_finish(losses, logits, targets, row_max, totals, 0, 0.5f, true);
      };
      run(loss, z);
      run(loss32, z32);
      const std::string what = std::string(dtype_name(t)) + (sharded ? " sharded" : "");
      EXPECT_EQ(std::memcmp(loss.raw(), loss32.raw(), loss.nbytes()), 0) << what;
      Tensor want = Tensor::empty({R, V}, t);
      convert(want, z32);
      EXPECT_EQ(std::memcmp(z.raw(), want.raw(), z.nbytes()), 0) << what;
    }
  }
}

}  // namespace
}  // namespace glm::kernels
