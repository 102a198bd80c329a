// Raw-pointer launchers of the attention kernels (attention_kernels.cu): the flash-style
// fused path and the pieces of the unfused (cuBLAS + softmax kernel) path. Math, mask and
// layouts of kernels/attention.h: qkv [B, T, a, 3, d], ctx [B, T, a*d].
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/convert_launch.h"
#include "kernels/cuda/dropout_launch.h"

namespace glm::kernels::cuda {

// qkv, ctx, dctx and dqkv of any float storage (read and written as stored, arithmetic in
// fp32); the row statistics lse and rowdot fp32.
struct FlashParams {
  FloatIn qkv{};               // [B, T, a, 3, d]
  FloatOut ctx{};              // [B, T, a*d]            forward output
  float* lse = nullptr;        // [B, a, T]              log-sum-exp of c*s per query row
  FloatIn dctx{};              // [B, T, a*d]            backward input
  float* rowdot = nullptr;     // [B, a, T]              D_i = dctx_i . ctx_i
  FloatOut dqkv{};             // [B, T, a, 3, d]        backward output (overwritten)
  const std::int32_t* prefix_len = nullptr;  // [B] device
  const std::int32_t* valid_len = nullptr;   // [B] device
  std::int64_t B = 0, T = 0, a = 0, d = 0;
  float alpha = 1.f;  // 1 / (sqrt(d) * c): scores s = alpha * q.k
  float c = 1.f;      // layer scaling: softmax over c * s
  bool dropout = false;
  DropoutParams drop;  // groups = heads
};

// Forward: ctx and lse (online softmax over key tiles, no T x T buffer).
cudaError_t launch_attention_flash_forward(const FlashParams& p, cudaStream_t s);
// Backward: rowdot (recomputes ctx from lse, dotted with dctx), then dq (one warp per query)
// and dk, dv (one warp per key), each written once: no atomics, deterministic.
cudaError_t launch_attention_flash_backward(const FlashParams& p, cudaStream_t s);

// Unfused path: scores [rows = B*a*T, T] in place -> masked softmax(scale * s); b0 is the
// sample index of the first row (per-sample calls). P, L per sample as above.
cudaError_t launch_attention_softmax_rows(float* scores, const std::int32_t* prefix_len,
                                          const std::int32_t* valid_len, std::int64_t B,
                                          std::int64_t a, std::int64_t T, float scale,
                                          cudaStream_t s);
// dprobs [rows, T] in place -> scale * p * (dp' - <dp', p>) with dp' = dropout(dp) when
// drop != nullptr (rows of sample b0 + r / (a*T), head (r / T) % a, query r % T).
cudaError_t launch_attention_softmax_backward_rows(float* dprobs, const float* probs,
                                                   std::int64_t rows, std::int64_t a,
                                                   std::int64_t T, float scale, std::int64_t b0,
                                                   const DropoutParams* drop, cudaStream_t s);

}  // namespace glm::kernels::cuda
