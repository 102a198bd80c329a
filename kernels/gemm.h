// Single-precision GEMM behind one interface (the CPU side; CUDA has its own in kernels/cuda).
//
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b]      row-major, b < batch
//
// op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements of
// the matrices as stored (before op), stride_a/b/c the distance between batch entries.
// Backends: oneDNN (AVX-512 JIT, the default), OpenBLAS (the fallback) and a naive loop
// (the reference tests compare against). The choice is fixed per process so results are
// reproducible bit for bit; docs/design.md section 10 says why oneDNN is the default.
#pragma once

#include <cstdint>
#include <string_view>

namespace glm::kernels {

enum class Trans { N, T };
enum class GemmBackend { onednn, openblas, naive };

struct GemmArgs {
  Trans trans_a = Trans::N, trans_b = Trans::N;
  std::int64_t M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  const float* A = nullptr;
  std::int64_t lda = 0;
  const float* B = nullptr;
  std::int64_t ldb = 0;
  float* C = nullptr;
  std::int64_t ldc = 0;
  std::int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
};

void gemm(const GemmArgs& g);                         // with the process-wide backend
void gemm(const GemmArgs& g, GemmBackend backend);    // with a given backend (tests, benches)

void set_gemm_backend(GemmBackend b);
GemmBackend gemm_backend();
// "onednn" | "openblas" | "naive"; throws InputError naming the value otherwise.
GemmBackend parse_gemm_backend(std::string_view name);
std::string_view gemm_backend_name(GemmBackend b);

}  // namespace glm::kernels
