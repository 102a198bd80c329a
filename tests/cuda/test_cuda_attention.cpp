// CUDA attention (flash and unfused paths) against the CPU implementation: the GLM mask
// (prefix + padding, causal, bidirectional, an empty sample), layer scaling, dropout with
// the CPU's Philox mask, forward and backward, on head dims that exercise every kernel
// instantiation (d = 6, 40, 128, 200) and sequence lengths that span several tiles.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/attention.h"
#include "kernels/cuda/cuda_attention.h"

namespace glm {
namespace {

using namespace cudatest;
namespace k = kernels;

// Attention reduces over T keys twice (scores over d, then probabilities over T) and the
// flash backward recomputes p = exp(c*s - lse) instead of reading the normalised value:
// |c*s - lse| up to ~20 carries ~20 * 2^-24 absolute error into the exponent, ~1e-6
// relative in p, amplified by the sums over T <= 150 keys. 1e-4 relative with a 1e-5 floor
// of the tensor's scale; a wrong mask entry, dropout decision or term is an O(1e-2..1) error.
constexpr double kAttnRtol = 1e-4, kAttnAtol = 1e-5;

struct Case {
  std::int64_t B, T, a, d;
  float p;
};

k::AttentionArgs args_for(const Case& c) {
  k::AttentionArgs args;
  args.heads = static_cast<int>(c.a);
  args.head_dim = static_cast<int>(c.d);
  args.layer_number = 3;
  args.dropout_p = c.p;
  args.dropout.seed = 99;
  args.dropout.step = 4;
  args.dropout.site = 19;
  args.dropout.sample_offset = 8;
  args.dropout.groups_total = 4 * c.a;
  args.dropout.group_offset = c.a;
  return args;
}

// Per sample: [gMASK]-like prefix with padding, causal, bidirectional, empty.
k::AttentionMask mask_for(std::int64_t B, std::int64_t T) {
  std::vector<std::int32_t> P, L;
  for (std::int64_t b = 0; b < B; ++b) {
    const int T32 = static_cast<int>(T);
    switch (b % 4) {
      case 0: P.push_back(T32 / 3), L.push_back(T32 - T32 / 4); break;
      case 1: P.push_back(0), L.push_back(T32); break;
      case 2: P.push_back(T32), L.push_back(T32); break;
      default: P.push_back(0), L.push_back(0); break;
    }
  }
  return {i32_tensor(P), i32_tensor(L)};
}

void run_case(const Case& c, bool flash) {
  const auto [B, T, a, d, p] = c;
  const k::AttentionArgs args = args_for(c);
  const k::AttentionMask mask = mask_for(B, T);
  const k::AttentionMask mask_d{dev(mask.prefix_len), dev(mask.valid_len)};
  Tensor qkv = random_tensor({B, T, a, 3, d}, 7 + T + d, -2, 2), dctx = random_tensor({B, T, a * d}, 8);
  Tensor ctx = Tensor::empty({B, T, a * d}, DType::f32), probs = Tensor::empty({B, a, T, T}, DType::f32);
  Tensor dqkv = Tensor::empty(qkv.shape(), DType::f32), scratch = Tensor::empty({B, a, T, T}, DType::f32);
  k::attention_forward(ctx, probs, qkv, mask, args);
  k::attention_backward(dqkv, scratch, dctx, probs, qkv, mask, args);

  Tensor qd = dev(qkv), dcd = dev(dctx);
  Tensor ctxd = Tensor::empty(ctx.shape(), DType::f32, Device::cuda());
  Tensor dqd = Tensor::empty(qkv.shape(), DType::f32, Device::cuda());
  // The interface picks the path from the shape of probs ([B, a, T]: flash).
  const Shape state = flash ? Shape{B, a, T} : Shape{B, a, T, T};
  Tensor probsd = Tensor::empty(state, DType::f32, Device::cuda());
  Tensor scratchd = Tensor::empty(state, DType::f32, Device::cuda());
  k::attention_forward(ctxd, probsd, qd, mask_d, args);
  k::attention_backward(dqd, scratchd, dcd, probsd, qd, mask_d, args);
  const std::string what = (flash ? "flash" : "unfused") + std::string(" B") + std::to_string(B) +
                           " T" + std::to_string(T) + " a" + std::to_string(a) + " d" +
                           std::to_string(d) + " p" + std::to_string(p);
  EXPECT_TRUE(close(host(ctxd), ctx, kAttnRtol, kAttnAtol)) << what;
  if (!flash) EXPECT_TRUE(close(host(probsd), probs, kAttnRtol, kAttnAtol)) << what;
  EXPECT_TRUE(close(host(dqd), dqkv, kAttnRtol, kAttnAtol)) << what;
}

TEST(CudaAttention, FlashMatchesCpuWithoutDropout) {
  SKIP_WITHOUT_GPU();
  for (const Case c : {Case{4, 13, 2, 6, 0.f}, Case{4, 150, 3, 40, 0.f}, Case{4, 70, 2, 128, 0.f},
                       Case{2, 37, 1, 200, 0.f}})
    run_case(c, true);
}

// Dropout decisions are the CPU's: a different mask would move ctx by O(1/T) per element.
TEST(CudaAttention, FlashMatchesCpuWithDropoutMasks) {
  SKIP_WITHOUT_GPU();
  for (const Case c : {Case{4, 13, 2, 6, 0.3f}, Case{4, 150, 3, 40, 0.1f}, Case{2, 37, 1, 200, 0.2f}})
    run_case(c, true);
}

TEST(CudaAttention, UnfusedMatchesCpuWithAndWithoutDropout) {
  SKIP_WITHOUT_GPU();
  for (const Case c : {Case{4, 13, 2, 6, 0.f}, Case{4, 150, 3, 40, 0.1f}, Case{4, 33, 2, 128, 0.3f}})
    run_case(c, false);
}

TEST(CudaAttention, SoftmaxOpsMatchCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t B = 4, a = 2, T = 45;
  const k::AttentionMask mask = mask_for(B, T);
  Tensor s = random_tensor({B, a, T, T}, 9, -5, 5), sd = dev(s);
  k::attention_softmax_forward(s, mask, 2.f);
  k::attention_softmax_forward(sd, {dev(mask.prefix_len), dev(mask.valid_len)}, 2.f);
  EXPECT_TRUE(close(host(sd), s, kAttnRtol, kAttnAtol));
  Tensor dp = random_tensor({B, a, T, T}, 10), dpd = dev(dp);
  k::attention_softmax_backward(dp, s, 2.f);
  k::attention_softmax_backward(dpd, sd, 2.f);
  EXPECT_TRUE(close(host(dpd), dp, kAttnRtol, kAttnAtol));
}

}  // namespace
}  // namespace glm
