// GEMMs on CUDA devices (the GPU side of kernels/gemm.h): row-major, batched, on device
// pointers, enqueued on the current stream (cuda_stream.h).
//
//   gemm_f32:  C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b]     fp32 in, fp32 out, fp32 math
//              (cuBLAS SGEMM, no TF32: the reference precision the CPU matches).
//   gemm_lt:   the same through cuBLASLt with fp16, bf16 (or fp32) A and B, fp32 accumulation
//              and scaling, C in A and B's type or fp32, and an optional bias epilogue
//              (C[m, n] += bias[n], bias of C's type): the mixed-precision path of
//              docs/design.md section 3. The bias rides in the GEMM's epilogue, saving a pass
//              over C.
// Row-major C = op(A) op(B) is computed as column-major C^T = op(B)^T op(A)^T, so no copy or
// transpose is ever made.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/gemm.h"

namespace glm::kernels::cuda {

void gemm_f32(const GemmArgs& g);

struct LtGemmArgs {
  Trans trans_a = Trans::N, trans_b = Trans::N;
  std::int64_t M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  DType ab_type = DType::f16;  // f16, bf16 or f32 (A and B)
  DType c_type = DType::f16;   // f32 or ab_type
  const void* A = nullptr;
  std::int64_t lda = 0;
  const void* B = nullptr;
  std::int64_t ldb = 0;
  void* C = nullptr;
  std::int64_t ldc = 0;
  const void* bias = nullptr;  // [N] of c_type, or null
  std::int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
};

void gemm_lt(const LtGemmArgs& g);

// The alignment gemm_lt tells cuBLASLt's heuristic for an operand (its
// MIN_ALIGNMENT_*_BYTES preference): the largest power of two, at most 256, dividing the
// pointer and, for a strided batch, the stride in bytes.
std::uint32_t lt_alignment(const void* p, std::int64_t batch_stride_bytes);

// The argument checks both paths run first (host-side; tested without a GPU): dimensions,
// leading dimensions against the stored shapes, null pointers, and int32 limits of cuBLAS.
void check_gemm_args(const GemmArgs& g);
void check_lt_gemm_args(const LtGemmArgs& g);

}  // namespace glm::kernels::cuda
