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
#include <string>
#include <string_view>

#include "core/dtype.h"

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

// A product's shape, which every GEMM of every backend takes: transposes, sizes, leading
// dimensions and (for a batch) the count and the distances between the batch's matrices.
// Each product the model runs has its shape written once: the linear layer's three below,
// the attention's head products in kernels/attention_products.h.
struct GemmShape {
  Trans trans_a = Trans::N, trans_b = Trans::N;
  std::int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
  std::int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;

  // Arguments of this shape (GemmArgs, Gemm16Args, cuda::LtGemmArgs); the caller sets the
  // operands and the scalars.
  template <class Args>
  Args args() const {
    Args g;
    g.trans_a = trans_a;
    g.trans_b = trans_b;
    g.M = M;
    g.N = N;
    g.K = K;
    g.lda = lda;
    g.ldb = ldb;
    g.ldc = ldc;
    g.batch = batch;
    g.stride_a = stride_a;
    g.stride_b = stride_b;
    g.stride_c = stride_c;
    return g;
  }
  // fp32 arguments of this shape on its operands: C = alpha op(A) op(B) + beta C.
  GemmArgs f32_args(const float* A, const float* B, float* C, float alpha = 1.f,
                    float beta = 0.f) const {
    GemmArgs g = args<GemmArgs>();
    g.alpha = alpha;
    g.beta = beta;
    g.A = A;
    g.B = B;
    g.C = C;
    return g;
  }
};
// The three products of a linear layer over R rows with W [out, in] (all row-major): the
// forward y [R, out] = x [R, in] W^T, the input gradient dx [R, in] = dy [R, out] W and the
// weight gradient dW [out, in] = dy^T x.
inline GemmShape linear_forward_shape(std::int64_t R, std::int64_t out, std::int64_t in) {
  return {Trans::N, Trans::T, R, out, in, in, in, out};
}
inline GemmShape linear_dx_shape(std::int64_t R, std::int64_t out, std::int64_t in) {
  return {Trans::N, Trans::N, R, in, out, out, in, in};
}
inline GemmShape linear_dw_shape(std::int64_t R, std::int64_t out, std::int64_t in) {
  return {Trans::T, Trans::N, out, in, R, out, in, in};
}

void gemm(const GemmArgs& g);                         // with the process-wide backend
void gemm(const GemmArgs& g, GemmBackend backend);    // with a given backend (tests, benches)

void set_gemm_backend(GemmBackend b);
GemmBackend gemm_backend();
// "onednn" | "openblas" | "naive"; throws InputError naming the value otherwise.
GemmBackend parse_gemm_backend(std::string_view name);
std::string_view gemm_backend_name(GemmBackend b);

// The 16-bit GEMM: A and B stored in the same 16-bit type (bf16 or f16), the products summed
// in fp32, C stored in f32 or in the operands' type (rounded once, to nearest even):
//
//   C = op(A) op(B) (+ bias[j] on every row) (+ C as it was, when accumulate)
//
// Layout as GemmArgs (row-major, lda/ldb/ldc in elements). Two paths, fixed per process:
//   native  oneDNN's matmul primitive on the 16-bit operands (brgemm kernels using
//           AVX512-BF16 / AVX512-FP16 / AMX), primitives cached per shape;
//   fp32    each operand converted to fp32 and multiplied by the fp32 gemm above (a CPU
//           whose oneDNN has only its reference loop for the type, e.g. fp16 on AMD Zen 4,
//           or GLM_GEMM16=fp32, which forces it so the suite covers it on every machine).
// Both sum exact products of the same operands in fp32, so they differ only in the order of
// the sums.
struct Gemm16Args {
  Trans trans_a = Trans::N, trans_b = Trans::N;
  std::int64_t M = 0, N = 0, K = 0;
  DType type = DType::bf16;  // A and B
  const void* A = nullptr;
  std::int64_t lda = 0;
  const void* B = nullptr;
  std::int64_t ldb = 0;
  DType c_type = DType::f32;  // f32 or `type`
  void* C = nullptr;
  std::int64_t ldc = 0;
  bool accumulate = false;
  const float* bias = nullptr;  // [N] or null (batch 1 only)
  // batch products C[b] = op(A[b]) op(B[b]), each operand's matrices `stride` elements apart
  // (one oneDNN primitive for all of them: the attention's heads)
  std::int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
};

enum class Gemm16Path { native, fp32 };

void gemm16(const Gemm16Args& g);
// The path gemm16 takes for operands of `type` (f16 or bf16) on this CPU and process.
Gemm16Path gemm16_path(DType type);
// What runs it: oneDNN's implementation name (for example "brg:avx512_core_bf16",
// "brg:avx512_core_amx"), or why the fp32 path does. For the start-up log and benchmarks.
std::string gemm16_implementation(DType type);
// Tests and benchmarks: force the fp32 path (true) or follow the CPU and GLM_GEMM16 (false).
void set_gemm16_force_fp32(bool force);

}  // namespace glm::kernels
