// Every CUDA op of the kernel interface against its CPU implementation on odd shapes, called
// through the interface itself (kernels/*.h dispatches CUDA tensors to kernels/cuda). Without
// a GPU every test here skips with a visible reason.
#include <gtest/gtest.h>

#include <climits>

#include "core/error.h"
#include "core/half.h"
#include "cuda_test_util.h"
#include "kernels/convert.h"
#include "kernels/cross_entropy.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_linear.h"
#include "kernels/cuda/cuda_stream.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/geglu.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "kernels/rope.h"

namespace glm {
namespace {

using namespace cudatest;
namespace k = kernels;

constexpr std::int64_t R = 37, H = 203;  // odd rows and width (not multiples of 32)

TEST(CudaLayerNorm, ForwardAndBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor x = random_tensor({R, H}, 1, -3, 3), g = random_tensor({H}, 2, 0.5f, 1.5f),
         b = random_tensor({H}, 3), dy = random_tensor({R, H}, 4), dres = random_tensor({R, H}, 5);
  Tensor y = Tensor::empty({R, H}, DType::f32), mean = Tensor::empty({R}, DType::f32),
         rstd = Tensor::empty({R}, DType::f32);
  k::layernorm_forward(y, mean, rstd, x, g, b, 1e-5f);
  Tensor yd = Tensor::empty({R, H}, DType::f32, Device::cuda()),
         md = Tensor::empty({R}, DType::f32, Device::cuda()),
         rd = Tensor::empty({R}, DType::f32, Device::cuda());
  Tensor xd = dev(x), gd = dev(g), bd = dev(b);
  k::layernorm_forward(yd, md, rd, xd, gd, bd, 1e-5f);
  EXPECT_TRUE(close(host(yd), y, kF32Rtol, kF32Atol));
  EXPECT_TRUE(close(host(md), mean, kF32Rtol, kF32Atol));
  EXPECT_TRUE(close(host(rd), rstd, kF32Rtol, kF32Atol));

  for (const bool with_res : {false, true}) {
    Tensor dx = Tensor::empty({R, H}, DType::f32), dg = random_tensor({H}, 6),
           db = random_tensor({H}, 7);  // += contract: start from nonzero
    Tensor dxd = Tensor::empty({R, H}, DType::f32, Device::cuda()), dgd = dev(dg), dbd = dev(db);
    Tensor dresd = dev(dres);
    k::layernorm_backward(dx, dg, db, dy, with_res ? &dres : nullptr, 2.5f, x, mean, rstd, g);
    k::layernorm_backward(dxd, dgd, dbd, dev(dy), with_res ? &dresd : nullptr, 2.5f, xd, md, rd, gd);
    EXPECT_TRUE(close(host(dxd), dx, kF32Rtol, kF32Atol)) << "residual " << with_res;
    EXPECT_TRUE(close(host(dgd), dg, kF32Rtol, kF32Atol)) << "residual " << with_res;
    EXPECT_TRUE(close(host(dbd), db, kF32Rtol, kF32Atol)) << "residual " << with_res;
  }
}

TEST(CudaLayerNorm, ResidualForwardMatchesCpu) {
  SKIP_WITHOUT_GPU();
  Tensor a = random_tensor({R, H}, 11), f = random_tensor({R, H}, 12), g = random_tensor({H}, 13),
         b = random_tensor({H}, 14);
  Tensor s = Tensor::empty({R, H}, DType::f32), y = Tensor::empty({R, H}, DType::f32),
         mean = Tensor::empty({R}, DType::f32), rstd = Tensor::empty({R}, DType::f32);
  k::residual_layernorm_forward(s, y, mean, rstd, a, f, 3.7f, g, b, 1e-5f);
  Tensor sd = Tensor::empty({R, H}, DType::f32, Device::cuda()),
         yd = Tensor::empty({R, H}, DType::f32, Device::cuda()),
         md = Tensor::empty({R}, DType::f32, Device::cuda()),
         rd = Tensor::empty({R}, DType::f32, Device::cuda());
  k::residual_layernorm_forward(sd, yd, md, rd, dev(a), dev(f), 3.7f, dev(g), dev(b), 1e-5f);
  EXPECT_TRUE(close(host(sd), s, kF32Rtol, kF32Atol));
  EXPECT_TRUE(close(host(yd), y, kF32Rtol, kF32Atol));
}

TEST(CudaLinear, ForwardAndBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t in = 45, out = 67;
  Tensor x = random_tensor({R, in}, 21), W = random_tensor({out, in}, 22), b = random_tensor({out}, 23),
         dy = random_tensor({R, out}, 24);
  Tensor y = Tensor::empty({R, out}, DType::f32);
  k::linear_forward(y, x, W, &b);
  Tensor xd = dev(x), Wd = dev(W), bd = dev(b), yd = Tensor::empty({R, out}, DType::f32, Device::cuda());
  k::linear_forward(yd, xd, Wd, &bd);
  EXPECT_TRUE(close(host(yd), y, kF32Rtol, kF32Atol));
  for (const bool acc : {false, true}) {
    Tensor dx = random_tensor({R, in}, 25), dW = random_tensor({out, in}, 26), db = random_tensor({out}, 27);
    Tensor dxd = dev(dx), dWd = dev(dW), dbd = dev(db);
    k::linear_backward(&dx, dW, &db, dy, x, W, acc);
    k::linear_backward(&dxd, dWd, &dbd, dev(dy), xd, Wd, acc);
    EXPECT_TRUE(close(host(dxd), dx, kF32Rtol, kF32Atol)) << "accumulate " << acc;
    EXPECT_TRUE(close(host(dWd), dW, kF32Rtol, kF32Atol)) << "accumulate " << acc;
    EXPECT_TRUE(close(host(dbd), db, kF32Rtol, kF32Atol)) << "accumulate " << acc;
  }
}

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

TEST(CudaGeglu, ForwardAndBackwardMatchCpuIncludingSaturatedTails) {
  SKIP_WITHOUT_GPU();
  const std::int64_t f = 77;
  Tensor u = random_tensor({R, 2 * f}, 51, -12, 12), dg = random_tensor({R, f}, 52);
  Tensor g = Tensor::empty({R, f}, DType::f32), du = Tensor::empty({R, 2 * f}, DType::f32);
  k::geglu_forward(g, u);
  k::geglu_backward(du, dg, u);
  Tensor ud = dev(u), gd = Tensor::empty({R, f}, DType::f32, Device::cuda()),
         dud = Tensor::empty({R, 2 * f}, DType::f32, Device::cuda());
  k::geglu_forward(gd, ud);
  k::geglu_backward(dud, dev(dg), ud);
  EXPECT_TRUE(close(host(gd), g, kF32Rtol, kF32Atol));
  EXPECT_TRUE(close(host(dud), du, kF32Rtol, kF32Atol));
}

TEST(CudaRope, ForwardAndBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t a = 3, d = 18;
  Tensor qkv = random_tensor({R, a, 3, d}, 61);
  std::vector<std::int32_t> pos(R);
  for (std::int64_t r = 0; r < R; ++r) pos[r] = static_cast<std::int32_t>((r * 53) % 2048);
  Tensor p = i32_tensor(pos), pd = dev(p);
  Tensor qd = dev(qkv);
  k::rope_forward(qkv, p, 10000.f);
  k::rope_forward(qd, pd, 10000.f);
  // Angles up to 2047 rad: sincos of a large argument differs by ~1 ulp of the angle's
  // rounding (2047 * 2^-24 ~ 1.2e-4 rad would be the worst case for a differently rounded
  // theta; both compute theta = pos * inv_freq in fp32, so only powf's <= 2 ulp differs).
  constexpr double kRopeRtol = 1e-4, kRopeAtol = 1e-5;
  EXPECT_TRUE(close(host(qd), qkv, kRopeRtol, kRopeAtol));
  k::rope_backward(qkv, p, 10000.f);
  k::rope_backward(qd, pd, 10000.f);
  EXPECT_TRUE(close(host(qd), qkv, kRopeRtol, kRopeAtol));
}

TEST(CudaEmbedding, ForwardBackwardWithShrinkAndVocabShardMatchCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t V = 29, h = 70, start = 11, total = 64;
  std::vector<std::int32_t> tok(R);
  for (std::int64_t r = 0; r < R; ++r) tok[r] = static_cast<std::int32_t>((r * 7) % total);
  tok[3] = tok[5] = 20;  // repeated token: the backward sums in row order
  Tensor t = i32_tensor(tok), table = random_tensor({V, h}, 71), dx = random_tensor({R, h}, 72);
  Tensor x = Tensor::empty({R, h}, DType::f32), dtab = random_tensor({V, h}, 73);
  k::embedding_forward(x, t, table, start, total);
  Tensor td = dev(t), xd = Tensor::empty({R, h}, DType::f32, Device::cuda()), dtabd = dev(dtab);
  k::embedding_forward(xd, td, dev(table), start, total);
  EXPECT_TRUE(bit_equal(host(xd), x));  // a copy: exact
  k::embedding_backward(dtab, dx, t, 0.1f, start);
  k::embedding_backward(dtabd, dev(dx), td, 0.1f, start);
  EXPECT_TRUE(close(host(dtabd), dtab, kF32Rtol, kF32Atol));
  tok[9] = static_cast<std::int32_t>(total);
  try {
    k::embedding_forward(xd, dev(i32_tensor(tok)), dev(table), start, total);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("token 64 at row 9"), std::string::npos) << e.what();
  }
}

TEST(CudaCrossEntropy, LossAndGradientMatchCpuWithIgnoredRows) {
  SKIP_WITHOUT_GPU();
  const std::int64_t V = 1031;
  Tensor logits = random_tensor({R, V}, 81, -8, 8);
  std::vector<std::int32_t> tg(R);
  for (std::int64_t r = 0; r < R; ++r) tg[r] = static_cast<std::int32_t>((r * 97) % V);
  tg[4] = -1;  // ignored
  Tensor t = i32_tensor(tg), loss = Tensor::empty({R}, DType::f32);
  Tensor ld = dev(logits), lossd = Tensor::empty({R}, DType::f32, Device::cuda());
  k::softmax_cross_entropy(loss, logits, t, 0.25f, true);
  k::softmax_cross_entropy(lossd, ld, dev(t), 0.25f, true);
  EXPECT_TRUE(close(host(lossd), loss, kF32Rtol, kF32Atol));
  EXPECT_TRUE(close(host(ld), logits, kF32Rtol, kF32Atol));
  tg[6] = static_cast<std::int32_t>(V);
  EXPECT_THROW(k::softmax_cross_entropy(lossd, ld, dev(i32_tensor(tg)), 1.f, false), InputError);
}

TEST(CudaDropout, MaskIsTheCpuMaskBitForBit) {
  SKIP_WITHOUT_GPU();
  Tensor x = random_tensor({4, 3 * 5, 33}, 91);  // [B, G*I, C]: G = 3 groups, I = 5, C odd
  k::DropoutSite site;
  site.seed = 1234;
  site.step = 17;
  site.site = 42;
  site.sample_offset = 6;
  site.groups_total = 12;
  site.group_offset = 3;
  Tensor xd = dev(x);
  k::dropout_apply(x, 0.3f, site, 3);
  k::dropout_apply(xd, 0.3f, site, 3);
  EXPECT_TRUE(bit_equal(host(xd), x));
}

TEST(CudaElementwise, OpsAndReductionsMatchCpu) {
  SKIP_WITHOUT_GPU();
  const std::int64_t n = 100003;
  Tensor a = random_tensor({n}, 101), b = random_tensor({n}, 102), y = Tensor::empty({n}, DType::f32);
  Tensor ad = dev(a), bd = dev(b), yd = Tensor::empty({n}, DType::f32, Device::cuda());
  k::scaled_add(y, 1.7f, a, b);
  k::scaled_add(yd, 1.7f, ad, bd);
  EXPECT_TRUE(close(host(yd), y, kF32Rtol, kF32Atol));
  k::axpy(y, -0.3f, a);
  k::axpy(yd, -0.3f, ad);
  k::scale(y, 0.9f);
  k::scale(yd, 0.9f);
  EXPECT_TRUE(close(host(yd), y, kF32Rtol, kF32Atol));
  // fp64 sums of 1e5 squares: orders differ, fp64 rounding ~1e-16 * n relative.
  EXPECT_NEAR(k::sum_squares(yd), k::sum_squares(y), 1e-9 * k::sum_squares(y));
  EXPECT_TRUE(k::all_finite(yd));
  for (const float bad : {INFINITY, -INFINITY, NAN}) {
    Tensor z = host(yd);
    z.data<float>()[n - 2] = bad;
    EXPECT_FALSE(k::all_finite(dev(z))) << bad;
  }
  // gather / scatter-add with repeated indices
  const std::int64_t rows = 13, h = 40;
  Tensor src = random_tensor({rows, h}, 103), out = Tensor::empty({5, h}, DType::f32);
  Tensor idx = i32_tensor({3, 0, 3, 12, 7});
  k::gather_rows(out, src, idx);
  Tensor outd = Tensor::empty({5, h}, DType::f32, Device::cuda());
  k::gather_rows(outd, dev(src), dev(idx));
  EXPECT_TRUE(bit_equal(host(outd), out));
  Tensor dst = random_tensor({rows, h}, 104), dstd = dev(dst);
  k::scatter_add_rows(dst, out, idx);
  k::scatter_add_rows(dstd, outd, dev(idx));
  EXPECT_TRUE(close(host(dstd), dst, kF32Rtol, kF32Atol));
  EXPECT_THROW(k::gather_rows(outd, dev(src), dev(i32_tensor({0, 1, 2, 13, 4}))), Error);
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
