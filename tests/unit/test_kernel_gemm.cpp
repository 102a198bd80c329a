// GEMM (kernels/gemm.h): every backend against a plain fp64 reference written here, on odd
// shapes, all four transpose combinations, padded leading dimensions and strided batches.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

// fp32 products of K terms: error <= ~K * 2^-24 * sum_k |a_k b_k|; 1e-5 of that sum covers
// K up to a few hundred with room to spare (oneDNN and OpenBLAS block the K loop).
constexpr double kGemmRtol = 1e-5;

struct Problem {
  Trans ta, tb;
  std::int64_t M, N, K, batch;
  float alpha, beta;
};

// Runs the problem on `backend` with padded leading dimensions and batch strides, and
// compares C with an independent reference.
void check_backend(GemmBackend backend, const Problem& p) {
  const std::int64_t a_rows = p.ta == Trans::N ? p.M : p.K, a_cols = p.ta == Trans::N ? p.K : p.M;
  const std::int64_t b_rows = p.tb == Trans::N ? p.K : p.N, b_cols = p.tb == Trans::N ? p.N : p.K;
  const std::int64_t lda = a_cols + 3, ldb = b_cols + 5, ldc = p.N + 2;
  const std::int64_t sa = a_rows * lda + 7, sb = b_rows * ldb + 1, sc = p.M * ldc + 4;
  Tensor A = test::random_tensor({std::max<std::int64_t>(1, sa * p.batch)}, 1);
  Tensor B = test::random_tensor({std::max<std::int64_t>(1, sb * p.batch)}, 2);
  Tensor C = test::random_tensor({std::max<std::int64_t>(1, sc * p.batch)}, 3);
  const std::vector<double> c0 = test::to_double(C);

  GemmArgs g;
  g.trans_a = p.ta;
  g.trans_b = p.tb;
  g.M = p.M;
  g.N = p.N;
  g.K = p.K;
  g.alpha = p.alpha;
  g.beta = p.beta;
  g.A = A.data<float>();
  g.lda = lda;
  g.B = B.data<float>();
  g.ldb = ldb;
  g.C = C.data<float>();
  g.ldc = ldc;
  g.batch = p.batch;
  g.stride_a = sa;
  g.stride_b = sb;
  g.stride_c = sc;
  gemm(g, backend);

  const float *a = A.data<float>(), *b = B.data<float>(), *c = C.data<float>();
  for (std::int64_t e = 0; e < p.batch; ++e)
    for (std::int64_t i = 0; i < p.M; ++i)
      for (std::int64_t j = 0; j < p.N; ++j) {
        double acc = 0, mag = 0;
        for (std::int64_t k = 0; k < p.K; ++k) {
          double x = p.ta == Trans::N ? a[e * sa + i * lda + k] : a[e * sa + k * lda + i];
          double y = p.tb == Trans::N ? b[e * sb + k * ldb + j] : b[e * sb + j * ldb + k];
          acc += x * y;
          mag += std::abs(x * y);
        }
        const std::int64_t at = e * sc + i * ldc + j;
        const double want = p.alpha * acc + p.beta * c0[at];
        ASSERT_NEAR(c[at], want,
                    kGemmRtol * (std::abs(p.alpha) * mag + std::abs(p.beta * c0[at])) + 1e-7)
            << gemm_backend_name(backend) << " ta=" << (p.ta == Trans::T)
            << " tb=" << (p.tb == Trans::T) << " at batch " << e << " (" << i << ", " << j << ")";
      }
  // Padding between rows and batch entries is untouched.
  for (std::int64_t e = 0; e < p.batch; ++e)
    for (std::int64_t i = 0; i < p.M; ++i)
      for (std::int64_t j = p.N; j < ldc; ++j)
        ASSERT_EQ(c[e * sc + i * ldc + j], c0[e * sc + i * ldc + j]);
}

const GemmBackend kBackends[] = {GemmBackend::onednn, GemmBackend::openblas, GemmBackend::naive};

TEST(Gemm, AllBackendsMatchReferenceForAllTransposes) {
  for (GemmBackend be : kBackends)
    for (Trans ta : {Trans::N, Trans::T})
      for (Trans tb : {Trans::N, Trans::T}) check_backend(be, {ta, tb, 17, 33, 9, 1, 0.7f, 0.3f});
}

TEST(Gemm, AllBackendsMatchReferenceOnStridedBatches) {
  for (GemmBackend be : kBackends)
    for (Trans ta : {Trans::N, Trans::T})
      for (Trans tb : {Trans::N, Trans::T}) check_backend(be, {ta, tb, 13, 6, 11, 5, 1.3f, 0.f});
}

TEST(Gemm, LargerProblemMatchesReference) {
  // Big enough that oneDNN and OpenBLAS use their blocked, multi-threaded kernels.
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas})
    check_backend(be, {Trans::N, Trans::T, 129, 95, 203, 1, 1.f, 1.f});
}

TEST(Gemm, BatchLargeEnoughForOneEntryPerThreadMatchesReference) {
  // oneDNN runs batches of mid-sized products one entry per thread (the attention heads).
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas})
    check_backend(be, {Trans::N, Trans::T, 128, 96, 64, 4, 1.f, 0.f});
}

TEST(Gemm, BetaZeroIgnoresGarbageInC) {
  for (GemmBackend be : kBackends) {
    std::vector<float> A(6, 1.f), B(6, 2.f), C(4, std::numeric_limits<float>::quiet_NaN());
    GemmArgs g;
    g.M = 2;
    g.N = 2;
    g.K = 3;
    g.A = A.data();
    g.lda = 3;
    g.B = B.data();
    g.ldb = 2;
    g.C = C.data();
    g.ldc = 2;
    gemm(g, be);
    for (float c : C) EXPECT_EQ(c, 6.f) << gemm_backend_name(be);
  }
}

TEST(Gemm, EmptyDimensionsAreHandled) {
  for (GemmBackend be : kBackends) {
    std::vector<float> C = {1.f, 2.f, 3.f, 4.f};
    GemmArgs g;  // K = 0: C = beta * C
    g.M = 2;
    g.N = 2;
    g.K = 0;
    g.beta = 0.5f;
    g.lda = 1;
    g.ldb = 2;
    g.C = C.data();
    g.ldc = 2;
    gemm(g, be);
    EXPECT_EQ(C, (std::vector<float>{0.5f, 1.f, 1.5f, 2.f})) << gemm_backend_name(be);
    g.beta = 0.f;
    gemm(g, be);
    EXPECT_EQ(C, (std::vector<float>{0.f, 0.f, 0.f, 0.f})) << gemm_backend_name(be);
    C = {7.f, 7.f, 7.f, 7.f};
    g.M = 0;  // nothing to compute: C untouched
    g.K = 3;
    g.lda = 3;
    gemm(g, be);
    EXPECT_EQ(C[0], 7.f);
  }
}

TEST(Gemm, BackendNamesParseAndBadNameIsInputError) {
  for (GemmBackend be : kBackends) EXPECT_EQ(parse_gemm_backend(gemm_backend_name(be)), be);
  try {
    parse_gemm_backend("mkl");
    FAIL() << "an unknown backend must throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'mkl'"), std::string::npos) << e.what();
  }
}

TEST(Gemm, ProcessBackendCanBeSetAndIsUsed) {
  const GemmBackend before = gemm_backend();
  set_gemm_backend(GemmBackend::naive);
  EXPECT_EQ(gemm_backend(), GemmBackend::naive);
  std::vector<float> A = {1, 2}, B = {3, 4}, C = {0};
  GemmArgs g;
  g.M = 1;
  g.N = 1;
  g.K = 2;
  g.A = A.data();
  g.lda = 2;
  g.B = B.data();
  g.ldb = 1;
  g.C = C.data();
  g.ldc = 1;
  gemm(g);
  EXPECT_EQ(C[0], 11.f);
  set_gemm_backend(before);
  EXPECT_EQ(gemm_backend(), before);
}

TEST(Gemm, TooSmallLeadingDimensionIsRejected) {
  std::vector<float> A(12), B(12), C(12);
  GemmArgs g;
  g.M = 3;
  g.N = 3;
  g.K = 4;
  g.A = A.data();
  g.lda = 3;  // < K
  g.B = B.data();
  g.ldb = 3;
  g.C = C.data();
  g.ldc = 3;
  EXPECT_THROW(gemm(g, GemmBackend::onednn), Error);
}

}  // namespace
}  // namespace glm::kernels
