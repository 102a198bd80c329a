// Attention core (kernels/attention.h): forward against an fp64 reference with the GLM mask
// ([gMASK]-like prefix with padding, fully causal P=0, fully bidirectional P=T, an empty
// sample), exact zeros where masked, dropout on the probabilities equal to dropout_apply's
// mask, the backward against finite differences with and without dropout, and 16-bit
// storage read natively.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>

#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/convert.h"
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

void check_backward(float p) {
  const AttentionArgs args = make_args(p);
  const AttentionMask mask = make_mask();
  Tensor qkv = test::random_tensor({B, T, A, 3, D}, 5, -1.5f, 1.5f),
         w = test::random_tensor({B, T, A * D}, 6);
  Tensor ctx = Tensor::empty({B, T, A * D}, DType::f32),
         probs = Tensor::empty({B, A, T, T}, DType::f32);
  auto loss = [&] {
    attention_forward(ctx, probs, qkv, mask, args);
    return test::project(ctx, w);
  };
  loss();
  Tensor dqkv = test::random_tensor({B, T, A, 3, D}, 7);  // overwritten
  Tensor scratch = test::random_tensor({B, A, T, T}, 8);
  attention_backward(dqkv, scratch, w, probs, qkv, mask, args);
  const Tensor grad = dqkv.clone();
  EXPECT_TRUE(test::all_close(grad, test::finite_differences(qkv, loss, 1e-2f), test::kFdRtol,
                              test::kFdAtol))
      << "p=" << p;
  // Padded keys (sample 0, j >= 10) and the empty sample receive exactly nothing in k and v.
  for (std::int64_t j = kValid[0]; j < T; ++j)
    for (std::int64_t h = 0; h < A; ++h)
      for (int part = 1; part < 3; ++part)
        for (std::int64_t e = 0; e < D; ++e)
          ASSERT_EQ(grad.data<float>()[((((0 * T + j) * A + h) * 3) + part) * D + e], 0.f);
  for (std::int64_t k = 0; k < T * A * 3 * D; ++k)
    ASSERT_EQ(grad.data<float>()[3 * T * A * 3 * D + k], 0.f);
}

TEST(Attention, BackwardMatchesFiniteDifferences) { check_backward(0.f); }
TEST(Attention, BackwardWithDropoutMatchesFiniteDifferences) { check_backward(0.25f); }

TEST(Attention, SoftmaxBackwardMatchesFormula) {
  Tensor scores = test::random_tensor({B, A, T, T}, 9);
  attention_softmax_forward(scores, make_mask(), 2.f);
  Tensor dp = test::random_tensor({B, A, T, T}, 10);
  std::vector<double> want(dp.numel());
  for (std::int64_t r = 0; r < B * A * T; ++r) {
    const float *p = scores.data<float>() + r * T, *g = dp.data<float>() + r * T;
    double dot = 0;
    for (std::int64_t j = 0; j < T; ++j) dot += static_cast<double>(g[j]) * p[j];
    for (std::int64_t j = 0; j < T; ++j) want[r * T + j] = 2.0 * p[j] * (g[j] - dot);
  }
  attention_softmax_backward(dp, scores, 2.f);
  EXPECT_TRUE(test::all_close(dp, want, kRtol, kAtol));
}

// 16-bit storage without a native 16-bit GEMM (fp16 on a CPU without AVX512-FP16, 16-bit
// tensors mixed with fp32 ones, or the fp32 path forced) is read and written a sample at a
// time: ctx, probs and dqkv equal, bit for bit, the fp32 op on the widened inputs rounded
// once (what Wide computes), with and without dropout. With the native 16-bit GEMM
// (kernels/gemm.h) the products read the 16-bit q, k, v and write ctx and dqkv in 16 bits,
// and P and dS are rounded to 16 bits before their products: within a few roundings of the
// fp32 op (max error over max |value|: 0.45 to 1.0 roundings of bf16 observed; 4 allowed).
TEST(Attention, SixteenBitStorageIsTheFp32OpRoundedOnce) {
  const AttentionMask mask = make_mask();
  for (bool force_fp32 : {true, false})
    for (DType t : {DType::bf16, DType::f16})
      for (float p : {0.f, 0.25f})
        for (bool mixed : {false, true}) {
          set_gemm16_force_fp32(force_fp32);
          const bool native = !mixed && gemm16_path(t) == Gemm16Path::native;
          const AttentionArgs args = make_args(p);
          const DType t2 = mixed ? DType::f32 : t;  // probs, dctx and scratch
          Tensor qkv = test::rounded(test::random_tensor({B, T, A, 3, D}, 21), t);
          Tensor dctx = test::rounded(test::random_tensor({B, T, A * D}, 22), t2);
          Tensor qkv32 = test::rounded(qkv, DType::f32), dctx32 = test::rounded(dctx, DType::f32);
          Tensor ctx = Tensor::empty({B, T, A * D}, t), probs = Tensor::empty({B, A, T, T}, t2);
          Tensor ctx32 = Tensor::empty(ctx.shape(), DType::f32),
                 probs32 = Tensor::empty(probs.shape(), DType::f32);
          attention_forward(ctx, probs, qkv, mask, args);
          attention_forward(ctx32, probs32, qkv32, mask, args);
          const std::string what = fmt::format("{} p {} mixed {} native {}", dtype_name(t), p,
                                               mixed, native);
          // The backward reads the stored (rounded) probabilities.
          Tensor probs_in32 = test::rounded(probs, DType::f32);
          Tensor dqkv = Tensor::empty(qkv.shape(), t),
                 dqkv32 = Tensor::empty(qkv.shape(), DType::f32);
          Tensor scratch = Tensor::empty(probs.shape(), t2),
                 scratch32 = Tensor::empty(probs.shape(), DType::f32);
          attention_backward(dqkv, scratch, dctx, probs, qkv, mask, args);
          attention_backward(dqkv32, scratch32, dctx32, probs_in32, qkv32, mask, args);
          if (!native) {
            EXPECT_TRUE(test::same_bytes(ctx, test::rounded(ctx32, t))) << what;
            EXPECT_TRUE(test::same_bytes(probs, test::rounded(probs32, t2))) << what;
            EXPECT_TRUE(test::same_bytes(dqkv, test::rounded(dqkv32, t))) << what;
            continue;
          }
          const double u = t == DType::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
          for (const auto& [got, want, name] :
               {std::tuple{&ctx, &ctx32, "ctx"}, std::tuple{&probs, &probs32, "probs"},
                std::tuple{&dqkv, &dqkv32, "dqkv"}}) {
            const Tensor g = test::rounded(*got, DType::f32);
            double err = 0, scale = 0;
            for (std::int64_t i = 0; i < g.numel(); ++i) {
              err = std::max(err, std::abs(double(g.data<float>()[i]) - want->data<float>()[i]));
              scale = std::max(scale, std::abs(double(want->data<float>()[i])));
            }
            EXPECT_LE(err, 4 * u * scale) << what << " " << name;
          }
        }
  set_gemm16_force_fp32(false);
}

}  // namespace
}  // namespace glm::kernels
