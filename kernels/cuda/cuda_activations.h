// GeGLU, RoPE, embedding and fused softmax + cross-entropy on CUDA tensors: the GPU side of
// kernels/{geglu,rope,embedding,cross_entropy}.h with the same math, shapes, accumulate
// contract (dtable +=) and input errors. Token and target ids are checked on the device;
// a bad one is reported after the kernel (one 4-byte read-back, which waits for the current
// stream) with the same InputError message as the CPU.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels::cuda {

void geglu_forward(Tensor& g, const Tensor& u);
void geglu_backward(Tensor& du, const Tensor& dg, const Tensor& u);

void rope_forward(Tensor& qkv, const Tensor& positions, float base);
void rope_backward(Tensor& dqkv, const Tensor& positions, float base);

void embedding_forward(Tensor& x, const Tensor& tokens, const Tensor& table,
                       std::int64_t vocab_start, std::int64_t vocab_total);
void embedding_backward(Tensor& dtable, const Tensor& dx, const Tensor& tokens, float alpha,
                        std::int64_t vocab_start);

// The vocab-parallel passes (kernels/cross_entropy.h; cuda_tensor_parallel.cpp).
void sharded_ce_row_max(Tensor& row_max, const Tensor& logits);
void sharded_ce_partials(Tensor& partials, const Tensor& logits, const Tensor& targets,
                         const Tensor& row_max, std::int64_t vocab_start);
void sharded_ce_finish(Tensor& losses, Tensor& logits, const Tensor& targets,
                       const Tensor& row_max, const Tensor& totals, std::int64_t vocab_start,
                       float grad_scale, bool write_grad);

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                           float grad_scale, bool write_grad);

}  // namespace glm::kernels::cuda
