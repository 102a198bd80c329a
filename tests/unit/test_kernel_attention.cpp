// Attention core (kernels/attention.h): forward against an fp64 reference with the GLM mask
// ([gMASK]-like prefix with padding, fully causal P=0, fully bidirectional P=T, an empty
// sample), exact zeros where masked, and dropout on the probabilities equal to
// dropout_apply's mask. The backward against finite differences with and without dropout,
// the softmax backward, and every row in 16-bit storage and on every backend are op harness
// rows (test_ops_attention.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t B = 4, T = 13, A = 2, D = 6;
// Sample 0: [gMASK]-like, context 4, 10 valid tokens, 3 padding; 1: causal; 2: fully
// bidirectional; 3: empty (every row has no allowed key).
const std::vector<std::int32_t> kPrefix = {4, 0, 13, 0}, kValid = {10, 13, 13, 0};
// fp32 GEMMs over <= 13 terms and a ~2 ulp exp against fp64: 1e-5 relative.
constexpr double kRtol = 1e-5, kAtol = 1e-6;

AttentionMask make_mask() { return {test::i32_tensor(kPrefix), test::i32_tensor(kValid)}; }

AttentionArgs make_args(float p) {
  AttentionArgs args;
  args.heads = A;
  args.head_dim = D;
  args.layer_number = 3;
  args.dropout_p = p;
  args.dropout.seed = 99;
  args.dropout.step = 4;
  args.dropout.site = 2 * 8 + 3;
  args.dropout.sample_offset = 8;
  args.dropout.groups_total = 4 * A;  // as if this rank held heads [A, 2A) of 4A
  args.dropout.group_offset = A;
  return args;
}

bool allowed(std::int64_t b, std::int64_t i, std::int64_t j) {
  return j < kValid[b] && (j < kPrefix[b] || j <= i);
}

// ctx [B, T, A*D] and probs [B, A, T, T] (pre-dropout) in fp64.
void reference(const Tensor& qkv, const AttentionArgs& args, std::vector<double>& ctx,
               std::vector<double>& probs) {
  ctx.assign(B * T * A * D, 0.0);
  probs.assign(B * A * T * T, 0.0);
  const float* x = qkv.data<float>();
  auto at = [&](std::int64_t b, std::int64_t t, std::int64_t h, int part, std::int64_t e) {
    return static_cast<double>(x[((((b * T + t) * A + h) * 3) + part) * D + e]);
  };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < A; ++h)
      for (std::int64_t i = 0; i < T; ++i) {
        std::vector<double> s(T, 0.0);
        double m = -1e300, sum = 0;
        for (std::int64_t j = 0; j < T; ++j) {
          if (!allowed(b, i, j)) continue;
          for (std::int64_t e = 0; e < D; ++e) s[j] += at(b, i, h, 0, e) * at(b, j, h, 1, e);
          s[j] /= std::sqrt(static_cast<double>(D));  // (1/(sqrt(d) c)) * c
          m = std::max(m, s[j]);
        }
        for (std::int64_t j = 0; j < T; ++j)
          if (allowed(b, i, j)) sum += std::exp(s[j] - m);
        for (std::int64_t j = 0; j < T; ++j) {
          const double p = allowed(b, i, j) ? std::exp(s[j] - m) / sum : 0.0;
          probs[((b * A + h) * T + i) * T + j] = p;
          const std::int64_t row = ((args.dropout.sample_offset + b) * args.dropout.groups_total +
                                    args.dropout.group_offset + h) *
                                       T +
                                   i;
          double pd = p;
          if (args.dropout_p > 0)
            pd = dropout_keep(args.dropout, args.dropout_p, row, j) ? p / (1.0 - args.dropout_p)
                                                                    : 0.0;
          for (std::int64_t e = 0; e < D; ++e)
            ctx[(b * T + i) * A * D + h * D + e] += pd * at(b, j, h, 2, e);
        }
      }
}

TEST(Attention, ForwardMatchesReferenceWithGlmMask) {
  for (float p : {0.f, 0.3f}) {
    const AttentionArgs args = make_args(p);
    Tensor qkv = test::random_tensor({B, T, A, 3, D}, 1, -2.f, 2.f);
    Tensor ctx = test::random_tensor({B, T, A * D}, 2),
           probs = test::random_tensor({B, A, T, T}, 3);
    attention_forward(ctx, probs, qkv, make_mask(), args);
    std::vector<double> want_ctx, want_probs;
    reference(qkv, args, want_ctx, want_probs);
    EXPECT_TRUE(test::all_close(probs, want_probs, kRtol, kAtol)) << "p=" << p;
    EXPECT_TRUE(test::all_close(ctx, want_ctx, kRtol, kAtol)) << "p=" << p;
    // Masked entries (incl. every padded key and the empty sample) are exactly zero.
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < A; ++h)
        for (std::int64_t i = 0; i < T; ++i)
          for (std::int64_t j = 0; j < T; ++j)
            if (!allowed(b, i, j))
              ASSERT_EQ(probs.data<float>()[((b * A + h) * T + i) * T + j], 0.f);
    for (std::int64_t k = 0; k < T * A * D; ++k)
      ASSERT_EQ(ctx.data<float>()[3 * T * A * D + k], 0.f);
  }
}

TEST(Attention, DroppedProbabilitiesEqualDropoutApplyOnProbs) {
  // ctx must equal dropout_apply(probs, groups = heads) times v: the same mask layout.
  const AttentionArgs args = make_args(0.5f);
  Tensor qkv = test::random_tensor({B, T, A, 3, D}, 4);
  Tensor ctx = Tensor::empty({B, T, A * D}, DType::f32),
         probs = Tensor::empty({B, A, T, T}, DType::f32);
  attention_forward(ctx, probs, qkv, make_mask(), args);
  Tensor dropped = probs.clone();
  dropout_apply(dropped, args.dropout_p, args.dropout, A);
  std::vector<double> want(B * T * A * D, 0.0);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < A; ++h)
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t j = 0; j < T; ++j)
          for (std::int64_t e = 0; e < D; ++e)
            want[(b * T + i) * A * D + h * D + e] +=
                static_cast<double>(dropped.data<float>()[((b * A + h) * T + i) * T + j]) *
                qkv.data<float>()[(((b * T + j) * A + h) * 3 + 2) * D + e];
  EXPECT_TRUE(test::all_close(ctx, want, kRtol, kAtol));
}


}  // namespace
}  // namespace glm::kernels
