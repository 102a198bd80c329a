// The KV-cache attention (kernels/kv_attention.h) against a plain fp64 loop over the GLM
// mask's definition (kernels/glm_mask.h), fed in several calls as prefill and decode feed it.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/glm_mask.h"
#include "kernels/kv_attention.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

using test::random_tensor;

// fp32 scores and softmax over at most a few dozen keys: a few ulps of the result's scale
constexpr double kRtol = 1e-5, kAtol = 1e-6;

// ctx [n, a*d] of the queries at sequence positions [t0, t0+n) of qkv_all [S, a, 3, d],
// attending to keys [0, t0+n) as the mask allows, in fp64; with half_kv the keys and values
// are first rounded to fp16, as an fp16 cache stores them.
std::vector<double> reference(const Tensor& qkv_all, int t0, int n, int P, bool half_kv = false) {
  const int a = static_cast<int>(qkv_all.size(1)), d = static_cast<int>(qkv_all.size(3));
  const float* q = qkv_all.data<float>();
  auto at = [&](int t, int h, int part, int e) {
    const float x = q[((t * a + h) * 3 + part) * d + e];
    return half_kv && part > 0 ? round_to_half(x) : x;
  };
  std::vector<double> out(static_cast<std::size_t>(n) * a * d, 0.0);
  const int L = t0 + n;
  for (int i = 0; i < n; ++i)
    for (int h = 0; h < a; ++h) {
      std::vector<double> s(L, -INFINITY);
      double mx = -INFINITY;
      for (int j = 0; j < L; ++j) {
        if (!glm_mask_allows(t0 + i, j, P, L)) continue;
        double dot = 0;
        for (int e = 0; e < d; ++e) dot += double(at(t0 + i, h, 0, e)) * at(j, h, 1, e);
        s[j] = dot / std::sqrt(double(d));
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int j = 0; j < L; ++j) sum += s[j] == -INFINITY ? 0 : std::exp(s[j] - mx);
      for (int j = 0; j < L; ++j) {
        if (s[j] == -INFINITY) continue;
        const double p = std::exp(s[j] - mx) / sum;
        for (int e = 0; e < d; ++e) out[(i * a + h) * d + e] += p * at(j, h, 2, e);
      }
    }
  return out;
}

// Feeds the sequence in calls of the given sizes; each call's ctx is checked. kv: the
// cache's dtype (f32 or f16).
void check_sequence(int a, int d, int cap, int P, const std::vector<int>& calls, int layer,
                    DType kv = DType::f32) {
  int S = 0;
  for (int c : calls) S += c;
  const Tensor all = random_tensor({S, a, 3, d}, 7 + S);
  Tensor K = random_tensor({a, cap, d}, 8), V = random_tensor({a, cap, d}, 9);  // garbage
  if (kv != DType::f32) {  // (zeros: what is beyond the written rows is never read)
    K = Tensor::zeros({a, cap, d}, kv);
    V = Tensor::zeros({a, cap, d}, kv);
  }
  int t0 = 0;
  for (int n : calls) {
    Tensor qkv = Tensor::empty({n, a, 3, d}, DType::f32);
    std::copy_n(all.data<float>() + static_cast<std::int64_t>(t0) * a * 3 * d, qkv.numel(),
                qkv.data<float>());
    Tensor ctx = Tensor::empty({n, a * d}, DType::f32);
    kv_attention_forward(ctx, qkv, K, V, t0, P, layer);
    EXPECT_TRUE(test::all_close(ctx.data<float>(), reference(all, t0, n, P, kv == DType::f16),
                                kRtol, kAtol))
        << "call at t0 " << t0 << " n " << n << " P " << P;
    t0 += n;
  }
}

TEST(KvAttention, PrefillThenDecodeMatchesTheMaskDefinition) {
  check_sequence(3, 40, 16, 5, {7, 1, 1, 1}, 1);  // prefix inside the prefill
  check_sequence(2, 64, 12, 6, {6, 1, 1}, 3);     // the prefill is all prefix
  check_sequence(4, 17, 9, 0, {1, 1, 1, 1, 1}, 2);  // no prefix: causal decode from token 0
  check_sequence(1, 8, 20, 4, {4, 5, 3}, 5);      // the prefix is exactly the first call
}

// An fp16 cache: the same sums over keys and values rounded once to fp16, to fp32 accuracy.
TEST(KvAttention, Fp16CacheMatchesTheDefinitionOnRoundedKeysAndValues) {
  check_sequence(3, 40, 16, 5, {7, 1, 1, 1}, 1, DType::f16);
  check_sequence(4, 17, 9, 0, {1, 1, 1, 1, 1}, 2, DType::f16);
  check_sequence(1, 8, 20, 4, {4, 5, 3}, 5, DType::f16);
}

TEST(KvAttention, RefusesOverflowASplitPrefixAndMismatchedShapes) {
  Tensor K = Tensor::zeros({2, 4, 8}, DType::f32), V = Tensor::zeros({2, 4, 8}, DType::f32);
  Tensor qkv = random_tensor({3, 2, 3, 8}, 1), ctx = Tensor::empty({3, 16}, DType::f32);
  EXPECT_THROW(kv_attention_forward(ctx, qkv, K, V, 2, 0, 1), Error);  // 2 + 3 > 4
  EXPECT_THROW(kv_attention_forward(ctx, qkv, K, V, 0, 4, 1), Error);  // prefix [0, 4) split
  Tensor wrong = Tensor::empty({3, 8}, DType::f32);
  EXPECT_THROW(kv_attention_forward(wrong, qkv, K, V, 0, 0, 1), Error);
  EXPECT_THROW(kv_attention_forward(ctx, qkv, K, V, 0, 0, 0), Error);  // layer numbers are 1-based
  Tensor K16 = Tensor::zeros({2, 4, 8}, DType::f16), Kb = Tensor::zeros({2, 4, 8}, DType::bf16);
  EXPECT_THROW(kv_attention_forward(ctx, qkv, K16, V, 0, 0, 1), Error);  // K and V differ
  EXPECT_THROW(kv_attention_forward(ctx, qkv, Kb, Kb, 0, 0, 1), Error);  // bf16: not a cache type
}

}  // namespace
}  // namespace glm::kernels
