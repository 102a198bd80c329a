// Fused softmax + cross-entropy (kernels/cross_entropy.h) stays finite and accurate for
// logits near 1e4. Loss and gradient against fp64 and finite differences, ignored rows and
// a bad target's InputError, in every storage and on every backend, are op harness rows
// (test_ops_elementwise.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cross_entropy.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 7, V = 101;

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

}  // namespace
}  // namespace glm::kernels
