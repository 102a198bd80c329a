// The largest attention logit (model/attention_logits.h) on a hand-made case: the largest
// product sits on a pair the GLM mask forbids, so the answer is the largest allowed one;
// padding queries and keys do not count; 16-bit qkv gives the same answer.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/convert.h"
#include "model/attention_logits.h"
#include "tests/test_util.h"

namespace glm::model {
namespace {

TEST(AttentionLogits, LargestAllowedScoreOverHeadsUnderTheGlmMask) {
  // B=1, T=4, a=2 heads, d=2; prefix P=2, valid L=3: query i sees keys j < 3 with j < 2 or j <= i.
  const int T = 4, a = 2, d = 2;
  Tensor qkv = Tensor::zeros({1, T, a, 3, d}, DType::f32);
  auto at = [&](int t, int h, int part, int x) -> float& {
    return qkv.data<float>()[((t * a + h) * 3 + part) * d + x];
  };
  // head 0: q_0 . k_2 = 100 (forbidden: key 2 is after query 0 and outside the prefix);
  // q_2 . k_2 = 6 (allowed); q_3 . k_0 = 50 (query 3 is padding)
  at(0, 0, 0, 0) = 10.f;
  at(2, 0, 1, 0) = 10.f;
  at(2, 0, 0, 0) = 0.6f;
  at(3, 0, 0, 1) = 5.f;
  at(0, 0, 1, 1) = 10.f;
  // head 1: q_1 . k_1 = 8 (allowed: key 1 is in the prefix), q_1 . k_3 = 40 (key 3 is padding)
  at(1, 1, 0, 0) = 2.f;
  at(1, 1, 1, 0) = 4.f;
  at(3, 1, 1, 0) = 20.f;
  kernels::AttentionMask mask{test::i32_tensor({2}), test::i32_tensor({3})};
  const double want = 8.0 / std::sqrt(2.0);
  EXPECT_NEAR(max_attention_logit(qkv, mask, a, d), want, 1e-6);
  Tensor bf16 = Tensor::empty(qkv.shape(), DType::bf16);
  kernels::convert(bf16, qkv);  // every value above is exact in bf16
  EXPECT_NEAR(max_attention_logit(bf16, mask, a, d), want, 1e-6);
  // No valid key at all: nothing to report.
  kernels::AttentionMask empty{test::i32_tensor({0}), test::i32_tensor({0})};
  EXPECT_EQ(max_attention_logit(qkv, empty, a, d), -INFINITY);
}

}  // namespace
}  // namespace glm::model
