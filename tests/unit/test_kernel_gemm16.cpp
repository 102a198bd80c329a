// The 16-bit GEMM (kernels/gemm.h): both paths (oneDNN's 16-bit matmul where this CPU has
// one, and the fp32 path, forced) against a plain fp64 reference of the same 16-bit values,
// for bf16 and f16 operands, all four transposes, padded leading dimensions, f32 and 16-bit
// outputs, accumulation and a bias.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

struct Problem {
  Trans ta, tb;
  std::int64_t M, N, K;
  DType type, c_type;
  bool accumulate, bias;
};

std::vector<std::uint16_t> random_16(std::int64_t n, DType t, std::uint64_t seed) {
  Tensor r = test::random_tensor({std::max<std::int64_t>(n, 1)}, seed);
  std::vector<std::uint16_t> out(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = float_to_16(r.data<float>()[i], t == DType::bf16);
  return out;
}

// Half an ulp of the output's storage, relative: the one rounding of a 16-bit C.
double storage_rounding(DType t) {
  return t == DType::bf16 ? std::ldexp(1.0, -8) : t == DType::f16 ? std::ldexp(1.0, -11) : 0.0;
}

void check(const Problem& p, bool force_fp32) {
  SCOPED_TRACE(::testing::Message() << "type " << dtype_name(p.type) << " C "
                                    << dtype_name(p.c_type) << " ta " << (p.ta == Trans::T)
                                    << " tb " << (p.tb == Trans::T) << " M " << p.M << " N "
                                    << p.N << " K " << p.K << " acc " << p.accumulate
                                    << " bias " << p.bias << " fp32 path " << force_fp32);
  const bool bf16 = p.type == DType::bf16;
  const std::int64_t a_rows = p.ta == Trans::N ? p.M : p.K, a_cols = p.ta == Trans::N ? p.K : p.M;
  const std::int64_t b_rows = p.tb == Trans::N ? p.K : p.N, b_cols = p.tb == Trans::N ? p.N : p.K;
  const std::int64_t lda = a_cols + 3, ldb = b_cols + 5, ldc = p.N + 2;
  const auto A = random_16(a_rows * lda, p.type, 11);
  const auto B = random_16(b_rows * ldb, p.type, 12);
  const Tensor bias = test::random_tensor({std::max<std::int64_t>(p.N, 1)}, 13);
  const Tensor c0 = test::random_tensor({std::max<std::int64_t>(p.M * ldc, 1)}, 14);

  // C as stored: fp32, or the start values rounded to the 16-bit type.
  std::vector<float> C32(c0.data<float>(), c0.data<float>() + c0.numel());
  std::vector<std::uint16_t> C16(C32.size());
  for (std::size_t i = 0; i < C32.size(); ++i) {
    C16[i] = float_to_16(C32[i], p.c_type == DType::bf16);
    if (p.c_type != DType::f32) C32[i] = float_from_16(C16[i], p.c_type == DType::bf16);
  }

  Gemm16Args g;
  g.trans_a = p.ta;
  g.trans_b = p.tb;
  g.M = p.M;
  g.N = p.N;
  g.K = p.K;
  g.type = p.type;
  g.A = A.data();
  g.lda = lda;
  g.B = B.data();
  g.ldb = ldb;
  g.c_type = p.c_type;
  g.C = p.c_type == DType::f32 ? static_cast<void*>(C32.data()) : static_cast<void*>(C16.data());
  g.ldc = ldc;
  g.accumulate = p.accumulate;
  g.bias = p.bias ? bias.data<float>() : nullptr;
  const std::vector<float> start = C32;
  set_gemm16_force_fp32(force_fp32);
  gemm16(g);
  set_gemm16_force_fp32(false);

  double scale = 0;
  std::vector<double> want(static_cast<std::size_t>(p.M * p.N)), sum_abs(want.size());
  for (std::int64_t i = 0; i < p.M; ++i)
    for (std::int64_t j = 0; j < p.N; ++j) {
      double acc = 0, mag = 0;
      for (std::int64_t k = 0; k < p.K; ++k) {
        const double a = float_from_16(p.ta == Trans::N ? A[i * lda + k] : A[k * lda + i], bf16);
        const double b = float_from_16(p.tb == Trans::N ? B[k * ldb + j] : B[j * ldb + k], bf16);
        acc += a * b;
        mag += std::abs(a * b);
      }
      if (p.bias) acc += bias.data<float>()[j], mag += std::abs(bias.data<float>()[j]);
      if (p.accumulate) acc += start[i * ldc + j], mag += std::abs(start[i * ldc + j]);
      want[i * p.N + j] = acc;
      sum_abs[i * p.N + j] = mag;
      scale = std::max(scale, std::abs(acc));
    }
  int bad = 0;
  for (std::int64_t i = 0; i < p.M; ++i)
    for (std::int64_t j = 0; j < p.N; ++j) {
      const double got = p.c_type == DType::f32
                             ? C32[i * ldc + j]
                             : float_from_16(C16[i * ldc + j], p.c_type == DType::bf16);
      const double w = want[i * p.N + j];
      // fp32 sums of exact products, then one rounding into C's storage.
      const double tol = 1e-5 * sum_abs[i * p.N + j] + storage_rounding(p.c_type) * std::abs(w) +
                         1e-30;
      if (!(std::abs(got - w) <= tol) && ++bad <= 3)
        ADD_FAILURE() << "C[" << i << "," << j << "] = " << got << ", want " << w;
    }
  // The padding between rows of C is never written.
  for (std::int64_t i = 0; i < p.M; ++i)
    for (std::int64_t j = p.N; j < ldc; ++j)
      if (p.c_type == DType::f32)
        EXPECT_EQ(C32[i * ldc + j], c0.data<float>()[i * ldc + j]);
      else
        EXPECT_EQ(C16[i * ldc + j], float_to_16(c0.data<float>()[i * ldc + j],
                                                p.c_type == DType::bf16));
  EXPECT_EQ(bad, 0) << "scale " << scale;
}

void check_all(DType type, bool force_fp32) {
  for (Trans ta : {Trans::N, Trans::T})
    for (Trans tb : {Trans::N, Trans::T})
      for (DType c_type : {DType::f32, type})
        for (int flags = 0; flags < 4; ++flags)
          check({ta, tb, 19, 23, 37, type, c_type, (flags & 1) != 0, (flags & 2) != 0},
                force_fp32);
  // A shape the brgemm kernels block (full vectors, several K blocks) and a skinny one.
  check({Trans::N, Trans::T, 96, 160, 320, type, DType::f32, false, true}, force_fp32);
  check({Trans::T, Trans::N, 64, 48, 515, type, DType::f32, true, false}, force_fp32);
  check({Trans::N, Trans::N, 1, 70, 33, type, type, false, false}, force_fp32);
}

TEST(Gemm16, Bf16MatchesReferenceOnEveryPath) {
  check_all(DType::bf16, false);
  check_all(DType::bf16, true);
}

TEST(Gemm16, F16MatchesReferenceOnEveryPath) {
  check_all(DType::f16, false);
  check_all(DType::f16, true);
}

// A batch (the attention's heads: strided matrices in one call) equals each matrix's own
// product, on both paths, with the operands' strides interleaved as the heads' are.
TEST(Gemm16, ABatchIsEachMatrixsProduct) {
  for (bool force_fp32 : {false, true}) {
    set_gemm16_force_fp32(force_fp32);
    const std::int64_t heads = 3, T = 37, d = 24, ld = 3 * heads * d;  // qkv rows
    const auto qkv = random_16(T * ld, DType::bf16, 21);
    std::vector<float> batched(static_cast<std::size_t>(heads * T * T)), single(batched.size());
    Gemm16Args g;
    g.trans_b = Trans::T;
    g.M = g.N = T;
    g.K = d;
    g.type = DType::bf16;
    g.A = qkv.data();
    g.lda = ld;
    g.B = qkv.data() + d;
    g.ldb = ld;
    g.C = batched.data();
    g.ldc = T;
    g.batch = heads;
    g.stride_a = g.stride_b = 3 * d;
    g.stride_c = T * T;
    gemm16(g);
    for (std::int64_t h = 0; h < heads; ++h) {
      Gemm16Args one = g;
      one.batch = 1;
      one.A = qkv.data() + h * 3 * d;
      one.B = qkv.data() + h * 3 * d + d;
      one.C = single.data() + h * T * T;
      gemm16(one);
    }
    double err = 0;
    for (std::size_t i = 0; i < batched.size(); ++i)
      err = std::max(err, std::abs(double(batched[i]) - single[i]));
    EXPECT_LE(err, 1e-5) << "fp32 path " << force_fp32;  // sums of the same exact products
  }
  set_gemm16_force_fp32(false);
  Gemm16Args bad;
  bad.M = bad.N = bad.K = bad.lda = bad.ldb = bad.ldc = 4;
  bad.batch = 2;
  std::vector<std::uint16_t> x(64);
  std::vector<float> y(64);
  bad.A = bad.B = x.data();
  bad.C = y.data();
  EXPECT_THROW(gemm16(bad), Error);  // a batch without strides
}

TEST(Gemm16, EmptyProductsWriteOnlyWhatTheyMust) {
  for (bool force : {false, true}) {
    set_gemm16_force_fp32(force);
    std::vector<float> C(6, 7.f);
    Gemm16Args g;
    g.M = 2;
    g.N = 3;
    g.K = 0;
    g.lda = 1;
    g.ldb = 3;
    g.C = C.data();
    g.ldc = 3;
    gemm16(g);  // K = 0: C = 0 (the empty sum)
    for (float c : C) EXPECT_EQ(c, 0.f);
    g.M = 0;
    g.C = C.data();
    C.assign(6, 7.f);
    gemm16(g);  // M = 0: nothing
    for (float c : C) EXPECT_EQ(c, 7.f);
    set_gemm16_force_fp32(false);
  }
}

TEST(Gemm16, BadArgumentsAreRejected) {
  std::vector<std::uint16_t> a(16), b(16);
  std::vector<float> c(16);
  Gemm16Args g;
  g.M = g.N = g.K = 4;
  g.A = a.data();
  g.B = b.data();
  g.C = c.data();
  g.lda = g.ldb = 4;
  g.ldc = 3;  // < N
  EXPECT_THROW(gemm16(g), Error);
  g.ldc = 4;
  g.c_type = DType::f16;  // neither f32 nor the operands' bf16
  EXPECT_THROW(gemm16(g), Error);
  g.c_type = DType::f32;
  g.type = DType::f32;
  EXPECT_THROW(gemm16(g), Error);
}

// Where the CPU multiplies bf16 in hardware, the bf16 path is oneDNN's and says so; forcing
// the fp32 path is visible in the name too.
TEST(Gemm16, PathAndImplementationAreReported) {
  const char* env = std::getenv("GLM_GEMM16");
  const bool env_forced = env != nullptr && std::string(env) == "fp32";
  if (!env_forced && (__builtin_cpu_supports("avx512bf16") != 0)) {
    EXPECT_EQ(gemm16_path(DType::bf16), Gemm16Path::native);
    EXPECT_NE(gemm16_implementation(DType::bf16).find("oneDNN matmul"), std::string::npos)
        << gemm16_implementation(DType::bf16);
  }
  set_gemm16_force_fp32(true);
  EXPECT_EQ(gemm16_path(DType::bf16), Gemm16Path::fp32);
  EXPECT_NE(gemm16_implementation(DType::bf16).find("forced"), std::string::npos);
  set_gemm16_force_fp32(false);
  EXPECT_FALSE(gemm16_implementation(DType::f16).empty());
}

// The linear op on bf16 activations takes the 16-bit GEMM: fp32 weights enter rounded to
// bf16 (exact when they hold bf16 values, as a bf16 run's do), the outputs equal the fp32
// path's on the same values to within the fp32 sums and one bf16 rounding.
TEST(Gemm16, LinearOnBf16ActivationsMatchesTheFp32Path) {
  const std::int64_t R = 24, in = 40, out = 56;
  auto bf16_valued = [](Shape s, std::uint64_t seed) {
    Tensor t = test::random_tensor(std::move(s), seed);
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = round_to_bf16(t.data<float>()[i]);
    return t;
  };
  auto to_bf16 = [](const Tensor& f) {
    Tensor t = Tensor::empty(f.shape(), DType::bf16);
    for (std::int64_t i = 0; i < f.numel(); ++i)
      t.data<std::uint16_t>()[i] = float_to_bf16(f.data<float>()[i]);
    return t;
  };
  auto values = [](const Tensor& t) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i)
      v[i] = t.dtype() == DType::f32 ? t.data<float>()[i]
                                     : bf16_to_float(t.data<std::uint16_t>()[i]);
    return v;
  };
  auto close = [&](const Tensor& got, const Tensor& want, double rtol, double atol) {
    const std::vector<double> g = values(got);
    const std::vector<float> g32(g.begin(), g.end());
    return test::all_close(g32.data(), values(want), rtol, atol);
  };
  const Tensor x = bf16_valued({R, in}, 1), W = bf16_valued({out, in}, 2), b = bf16_valued({out}, 3);
  const Tensor dy = bf16_valued({R, out}, 4);

  for (bool force : {false, true}) {
    set_gemm16_force_fp32(force);
    Tensor y16 = Tensor::empty({R, out}, DType::bf16), y32 = Tensor::empty({R, out}, DType::f32);
    linear_forward(y16, to_bf16(x), W, &b);
    linear_forward(y32, x, W, &b);
    EXPECT_TRUE(close(y16, y32, std::ldexp(1.0, -8), 1e-6));

    Tensor dx16 = Tensor::empty({R, in}, DType::bf16), dx32 = Tensor::zeros({R, in}, DType::f32);
    Tensor dW16 = Tensor::zeros({out, in}, DType::f32), dW32 = Tensor::zeros({out, in}, DType::f32);
    Tensor db16 = Tensor::zeros({out}, DType::f32), db32 = Tensor::zeros({out}, DType::f32);
    linear_backward(&dx16, dW16, &db16, to_bf16(dy), to_bf16(x), W);
    linear_backward(&dx32, dW32, &db32, dy, x, W);
    EXPECT_TRUE(close(dx16, dx32, std::ldexp(1.0, -8), 1e-6));
    EXPECT_TRUE(close(dW16, dW32, 1e-5, 1e-6));
    EXPECT_TRUE(close(db16, db32, 1e-6, 1e-7));
    set_gemm16_force_fp32(false);
  }
}

}  // namespace
}  // namespace glm::kernels
