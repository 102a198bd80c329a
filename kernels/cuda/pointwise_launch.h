// Raw-pointer launchers of the row-wise activation kernels: GeGLU (geglu_kernels.cu), RoPE
// (rope_kernels.cu), embedding (embedding_kernels.cu) and softmax + cross-entropy
// (cross_entropy_kernels.cu). Math and shapes are those of kernels/{geglu,rope,embedding,
// cross_entropy}.h.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

// g [R, f] = u[:, :f] * GELU_tanh(u[:, f:])  and its backward (du overwritten).
// Every tensor of any float storage (FloatIn/FloatOut).
cudaError_t launch_geglu_forward(FloatOut g, FloatIn u, std::int64_t R, std::int64_t f,
                                 cudaStream_t s);
cudaError_t launch_geglu_backward(FloatOut du, FloatIn dg, FloatIn u, std::int64_t R,
                                  std::int64_t f, cudaStream_t s);

// In place on qkv [R, a, 3, d] (any float storage): rotate q and k by the position angles; sign -1 applies the
// inverse rotation (backward).
cudaError_t launch_rope(FloatOut qkv, const std::int32_t* positions, std::int64_t R,
                        std::int64_t a, std::int64_t d, float base, float sign, cudaStream_t s);

// x[r] = table[tokens[r] - vocab_start] (zeros for tokens of another shard). bad_row: the
// smallest r with a token outside [0, vocab_total) (initialised to INT32_MAX by the caller).
cudaError_t launch_embedding_forward(FloatOut x, const std::int32_t* tokens, FloatIn table,
                                     std::int64_t R, std::int64_t V, std::int64_t h,
                                     std::int64_t vocab_start, std::int64_t vocab_total,
                                     int* bad_row, cudaStream_t s);
// dtable (fp32) [tokens[r] - vocab_start] += alpha * dx[r], rows in order per column (deterministic);
// bad_row: the smallest r with a negative token.
cudaError_t launch_embedding_backward(float* dtable, FloatIn dx, const std::int32_t* tokens,
                                      float alpha, std::int64_t R, std::int64_t V, std::int64_t h,
                                      std::int64_t vocab_start, int* bad_row, cudaStream_t s);

// One block per row of logits [R, V] (any float storage): losses[r] (fp32) and, with write_grad, logits[r] replaced by
// grad_scale * (softmax - onehot). Targets < 0: loss 0 (and a zero row). bad_row: smallest r
// with target >= V.
cudaError_t launch_softmax_cross_entropy(float* losses, FloatOut logits,
                                         const std::int32_t* targets, std::int64_t R,
                                         std::int64_t V, float grad_scale, bool write_grad,
                                         int* bad_row, cudaStream_t s);

}  // namespace glm::kernels::cuda
