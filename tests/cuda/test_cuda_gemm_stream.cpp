// The CUDA entries the op harness (tests/unit/op_harness.h) cannot reach through kernels/*.h:
// the fp16-storage linear with its bias epilogue, the batched transposed fp32 GEMM, and ops
// running on the scoped stream. Without a GPU every test here skips with a visible reason.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/convert.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_linear.h"
#include "kernels/cuda/cuda_stream.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"

namespace glm {
namespace {

using namespace cudatest;
namespace k = kernels;

constexpr std::int64_t R = 37;  // odd rows (not a multiple of 32)

// fp16 storage, fp32 accumulation: inputs rounded to fp16 on both sides; the CPU reference
// computes in fp32 from the rounded values and rounds the output once.
TEST(CudaLinear, HalfPrecisionForwardWithBiasEpilogueMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t in = 72, out = 40;
  Tensor x = random_tensor({R, in}, 31), W = random_tensor({out, in}, 32), b = random_tensor({out}, 33);
  for (Tensor* t : {&x, &W, &b}) k::round_to_f16(*t);
  Tensor y = Tensor::empty({R, out}, DType::f32);
  k::linear_forward(y, x, W, &b);
  k::round_to_f16(y);
  auto to_half_dev = [](const Tensor& t) {
    Tensor h = Tensor::empty(t.shape(), DType::f16);
    k::f32_to_f16(h, t);
    return dev(h);
  };
  Tensor yh = Tensor::empty({R, out}, DType::f16, Device::cuda());
  Tensor bh = to_half_dev(b);
  k::cuda::linear_forward_f16(yh, to_half_dev(x), to_half_dev(W), &bh);
  Tensor yf = Tensor::empty({R, out}, DType::f32);
  k::f16_to_f32(yf, host(yh));
  EXPECT_TRUE(close(yf, y, kF16Rtol, kF16Atol));
}

TEST(CudaGemm, BatchedTransposedFp32MatchesNaiveCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t M = 19, N = 23, K = 31, batch = 3;
  for (const k::Trans ta : {k::Trans::N, k::Trans::T})
    for (const k::Trans tb : {k::Trans::N, k::Trans::T}) {
      Tensor A = random_tensor({batch, M * K}, 41), B = random_tensor({batch, K * N}, 42),
             C = random_tensor({batch, M * N}, 43);
      Tensor Ad = dev(A), Bd = dev(B), Cd = dev(C);
      k::GemmArgs g;
      g.trans_a = ta;
      g.trans_b = tb;
      g.M = M;
      g.N = N;
      g.K = K;
      g.alpha = 0.75f;
      g.beta = 0.5f;
      g.lda = ta == k::Trans::N ? K : M;
      g.ldb = tb == k::Trans::N ? N : K;
      g.ldc = N;
      g.batch = batch;
      g.stride_a = M * K;
      g.stride_b = K * N;
      g.stride_c = M * N;
      g.A = A.data<float>();
      g.B = B.data<float>();
      g.C = C.data<float>();
      k::gemm(g, k::GemmBackend::naive);
      g.A = Ad.data<float>();
      g.B = Bd.data<float>();
      g.C = Cd.data<float>();
      k::cuda::gemm_f32(g);
      EXPECT_TRUE(close(host(Cd), C, kF32Rtol, kF32Atol)) << int(ta) << int(tb);
    }
}

TEST(CudaRuntime, OpsRunOnTheScopedStream) {
  SKIP_WITHOUT_GPU();
  k::cuda::Stream s;
  Tensor a = random_tensor({1 << 16}, 111), b = random_tensor({1 << 16}, 112);
  Tensor ad = dev(a), bd = dev(b), yd = Tensor::empty({1 << 16}, DType::f32, Device::cuda());
  {
    k::cuda::StreamScope on(s.get());
    EXPECT_EQ(k::cuda::current_stream(), s.get());
    k::scaled_add(yd, 2.f, ad, bd);
    s.synchronize();
  }
  EXPECT_EQ(k::cuda::current_stream(), nullptr);
  Tensor y = Tensor::empty({1 << 16}, DType::f32);
  k::scaled_add(y, 2.f, a, b);
  EXPECT_TRUE(close(host(yd), y, kF32Rtol, kF32Atol));
}

}  // namespace
}  // namespace glm
