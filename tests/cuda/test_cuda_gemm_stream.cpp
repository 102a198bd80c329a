// What the op harness (tests/unit/op_harness.h) does not cover on CUDA: the 16-bit linear
// with its bias epilogue against fp32 main gradients, the batched transposed fp32 GEMM, the
// row scatter's exact summation order, and ops running on the scoped stream. Without a GPU
// every test here skips with a visible reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/convert.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_stream.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"

namespace glm {
namespace {

using namespace cudatest;
namespace k = kernels;

constexpr std::int64_t R = 37;  // odd rows (not a multiple of 32)

// An fp32 host tensor converted to `type` (rounded to nearest even), its device copy, and an
// fp32 host copy of any device tensor.
Tensor stored_as(const Tensor& t, DType type) {
  Tensor s = Tensor::empty(t.shape(), type);
  k::convert(s, t);
  return s;
}
Tensor dev_as(const Tensor& t, DType type) { return dev(stored_as(t, type)); }
Tensor host_f32(const Tensor& d) {
  Tensor f = Tensor::empty(d.shape(), DType::f32);
  k::convert(f, host(d));
  return f;
}

// 16-bit storage, fp32 accumulation (cuBLASLt on the stored tensors): inputs rounded to the
// storage type on both sides; the CPU reference computes in fp32 from the rounded values and
// rounds each 16-bit output once. dW accumulates into an fp32 main gradient, db sums in fp32.
// Tolerance: one rounding of the output (2^-11 fp16, 2^-8 bf16) plus fp32 summation order.
TEST(CudaLinear, SixteenBitStorageForwardAndBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t in = 72, out = 40;
  for (const DType type : {DType::f16, DType::bf16}) {
    const double tol = type == DType::bf16 ? 8e-3 : kF16Rtol;
    Tensor x = random_tensor({R, in}, 31), W = random_tensor({out, in}, 32),
           b = random_tensor({out}, 33), dy = random_tensor({R, out}, 34);
    for (Tensor* t : {&x, &W, &b, &dy}) k::round_to(*t, type);
    Tensor y = Tensor::empty({R, out}, DType::f32), dx = Tensor::empty({R, in}, DType::f32);
    Tensor dW = random_tensor({out, in}, 35), db = random_tensor({out}, 36);
    Tensor dWd = dev(dW), dbd = dev(db);  // fp32 main gradients, accumulated into (+=)
    k::linear_forward(y, x, W, &b);
    k::linear_backward(&dx, dW, &db, dy, x, W);
    k::round_to(y, type);
    k::round_to(dx, type);

    Tensor yd = Tensor::empty({R, out}, type, Device::cuda()),
           dxd = Tensor::empty({R, in}, type, Device::cuda());
    const Tensor xd = dev_as(x, type), Wd = dev_as(W, type), bd = dev_as(b, type),
                 dyd = dev_as(dy, type);
    k::linear_forward(yd, xd, Wd, &bd);
    k::linear_backward(&dxd, dWd, &dbd, dyd, xd, Wd);
    const char* name = type == DType::bf16 ? "bf16" : "fp16";
    EXPECT_TRUE(close(host_f32(yd), y, tol, tol)) << name << " y";
    EXPECT_TRUE(close(host_f32(dxd), dx, tol, tol)) << name << " dx";
    EXPECT_TRUE(close(host(dWd), dW, kF32Rtol, kF32Atol)) << name << " dW";
    EXPECT_TRUE(close(host(dbd), db, kF32Rtol, kF32Atol)) << name << " db";
  }
}

// Repeated destinations far apart, a destination no row hits, widths across blocks: the
// sorted-group scatter adds each destination's rows in row order in fp32 and rounds once,
// as the CPU does, so both give the same bits in every storage type. A bad index is named.
TEST(CudaScatter, GroupedSumIsTheCpuOpBitForBit) {
  SKIP_WITHOUT_GPU();
  const std::int64_t rows = 23, n = 300;
  std::vector<std::int32_t> index(n);
  for (std::int64_t r = 0; r < n; ++r)
    index[r] = static_cast<std::int32_t>((r * 7 + r / 5) % (rows - 1));
  const Tensor idx = i32_tensor(index);
  for (DType t : {DType::f32, DType::bf16, DType::f16})
    for (std::int64_t h : {std::int64_t{5}, std::int64_t{300}}) {
      const Tensor src = stored_as(random_tensor({n, h}, 11), t);
      Tensor dst = stored_as(random_tensor({rows, h}, 12), t);
      Tensor dst_gpu = dev(dst);
      k::scatter_add_rows(dst_gpu, dev(src), dev(idx));
      k::scatter_add_rows(dst, src, idx);
      EXPECT_TRUE(bit_equal(host(dst_gpu), dst)) << dtype_name(t) << " h " << h;
    }
  std::vector<std::int32_t> bad(index);
  bad[17] = static_cast<std::int32_t>(rows);
  Tensor dst = dev(random_tensor({rows, 5}, 1));
  try {
    k::scatter_add_rows(dst, dev(random_tensor({n, 5}, 2)), dev(i32_tensor(bad)));
    ADD_FAILURE() << "an index outside the table was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index 23 at row 17"), std::string::npos) << e.what();
  }
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
