// CPU GEMM: one row-major sgemm interface over oneDNN (default), OpenBLAS (fallback) and a
// naive reference loop. See kernels/gemm.h for the contract and docs/design.md section 10 for
// the backend choice (oneDNN JIT-compiles AVX-512 kernels; the environment pins OpenBLAS to
// AVX2).
#include "kernels/gemm.h"

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/error.h"
#include "kernels/cpu/check.h"

namespace glm::kernels {
namespace {

// -1: not chosen yet (read GLM_GEMM_BACKEND at first use).
std::atomic<int> g_backend{-1};

// C = beta * C for K == 0 (the product is empty); beta == 0 writes zeros without reading C,
// the BLAS convention (C may hold garbage, even NaN).
void scale_c(float* C, std::int64_t M, std::int64_t N, std::int64_t ldc, float beta) {
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

// The reference: plain loops with fp64 accumulation, rows in parallel.
void gemm_naive_one(const GemmArgs& g, const float* A, const float* B, float* C) {
  const std::int64_t M = g.M, N = g.N, K = g.K;
#pragma omp parallel for schedule(static) if (M * N * K >= cpu::kParallelMin)
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (std::int64_t k = 0; k < K; ++k) {
        float a = g.trans_a == Trans::N ? A[i * g.lda + k] : A[k * g.lda + i];
        float b = g.trans_b == Trans::N ? B[k * g.ldb + j] : B[j * g.ldb + k];
        acc += static_cast<double>(a) * b;
      }
      float prev = g.beta == 0.f ? 0.f : g.beta * C[i * g.ldc + j];
      C[i * g.ldc + j] = static_cast<float>(g.alpha * acc) + prev;
    }
  }
}

void gemm_onednn_one(const GemmArgs& g, const float* A, const float* B, float* C) {
  dnnl_status_t st =
      dnnl_sgemm(g.trans_a == Trans::N ? 'N' : 'T', g.trans_b == Trans::N ? 'N' : 'T', g.M, g.N,
                 g.K, g.alpha, A, g.lda, B, g.ldb, g.beta, C, g.ldc);
  GLM_CHECK(st == dnnl_success,
            "dnnl_sgemm failed with status {} (M={} N={} K={} lda={} ldb={} ldc={})",
            static_cast<int>(st), g.M, g.N, g.K, g.lda, g.ldb, g.ldc);
}

void gemm_openblas_one(const GemmArgs& g, const float* A, const float* B, float* C) {
  constexpr std::int64_t kMax = std::numeric_limits<blasint>::max();
  GLM_CHECK(
      g.M <= kMax && g.N <= kMax && g.K <= kMax && g.lda <= kMax && g.ldb <= kMax && g.ldc <= kMax,
      "gemm: dimensions exceed OpenBLAS's 32-bit integers (M={} N={} K={})", g.M, g.N, g.K);
  cblas_sgemm(CblasRowMajor, g.trans_a == Trans::N ? CblasNoTrans : CblasTrans,
              g.trans_b == Trans::N ? CblasNoTrans : CblasTrans, static_cast<blasint>(g.M),
              static_cast<blasint>(g.N), static_cast<blasint>(g.K), g.alpha, A,
              static_cast<blasint>(g.lda), B, static_cast<blasint>(g.ldb), g.beta, C,
              static_cast<blasint>(g.ldc));
}

GemmBackend backend_from_env() {
  const char* env = std::getenv("GLM_GEMM_BACKEND");
  if (env == nullptr || *env == '\0') return GemmBackend::onednn;
  return parse_gemm_backend(env);
}

}  // namespace

GemmBackend parse_gemm_backend(std::string_view name) {
  if (name == "onednn") return GemmBackend::onednn;
  if (name == "openblas") return GemmBackend::openblas;
  if (name == "naive") return GemmBackend::naive;
  throw InputError(fmt::format(
      "unknown GEMM backend '{}' (GLM_GEMM_BACKEND): expected onednn, openblas or naive", name));
}

std::string_view gemm_backend_name(GemmBackend b) {
  switch (b) {
    case GemmBackend::onednn:
      return "onednn";
    case GemmBackend::openblas:
      return "openblas";
    case GemmBackend::naive:
      return "naive";
  }
  return "?";
}

void set_gemm_backend(GemmBackend b) { g_backend.store(static_cast<int>(b)); }

GemmBackend gemm_backend() {
  int b = g_backend.load();
  if (b < 0) {
    // First use: the environment decides once for the whole process.
    static const GemmBackend from_env = backend_from_env();
    int expected = -1;
    g_backend.compare_exchange_strong(expected, static_cast<int>(from_env));
    b = g_backend.load();
  }
  return static_cast<GemmBackend>(b);
}

void gemm(const GemmArgs& g) { gemm(g, gemm_backend()); }

void gemm(const GemmArgs& g, GemmBackend backend) {
  require_gemm_dims("gemm", g.trans_a, g.trans_b, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch, g.A,
                    g.B, g.C);
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  if (g.K == 0) {
    for (std::int64_t b = 0; b < g.batch; ++b)
      scale_c(g.C + b * g.stride_c, g.M, g.N, g.ldc, g.beta);
    return;
  }

  auto one = [&](std::int64_t b) {
    const float* A = g.A + b * g.stride_a;
    const float* B = g.B + b * g.stride_b;
    float* C = g.C + b * g.stride_c;
    switch (backend) {
      case GemmBackend::onednn:
        gemm_onednn_one(g, A, B, C);
        break;
      case GemmBackend::openblas:
        gemm_openblas_one(g, A, B, C);
        break;
      case GemmBackend::naive:
        gemm_naive_one(g, A, B, C);
        break;
    }
  };

  // Many small products (attention: one per head, T x T x d): one product per thread, each
  // single-threaded inside oneDNN (it runs sequentially within a parallel region), beats
  // splitting every small product over the threads. Tiny batches (under ~10 us of work) stay
  // on the calling thread. The choice depends only on the shape and the thread count, so
  // results stay reproducible run to run.
  const int threads = omp_get_max_threads();
  const double flops_each = 2.0 * static_cast<double>(g.M) * g.N * g.K;
  if (backend == GemmBackend::onednn && g.batch >= threads && threads > 1 && flops_each < 64e6 &&
      flops_each * g.batch >= 4e6) {
#pragma omp parallel for schedule(static)
    for (std::int64_t b = 0; b < g.batch; ++b) one(b);
  } else {
    for (std::int64_t b = 0; b < g.batch; ++b) one(b);
  }
}

}  // namespace glm::kernels
