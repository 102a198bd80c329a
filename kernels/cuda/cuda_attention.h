// Attention on CUDA tensors: the CUDA backend of kernels/attention.h (GLM mask, query-key
// layer scaling, fp32 softmax, dropout on the probabilities with the CPU's Philox mask).
// The entry (kernels/attention.cpp) checks the arguments and picks the path; the flash path
// checks only what depends on the device (head dim against its shared memory).
//
// Two paths, chosen by the entry from the shape of `probs`:
//   probs [B, a, T]     flash path: fused tiled kernels with an online softmax; probs holds
//                       the log-sum-exp of each query row (the only per-row state the
//                       backward needs); no T x T buffer exists. scratch in the backward
//                       needs only B*a*T floats (D_i = dctx_i . ctx_i).
//   probs [B, a, T, T]  unfused path, identical in meaning to the CPU: cuBLAS batched SGEMMs
//                       per sample, the masked softmax kernel, the dropout kernel; probs are
//                       the probabilities before dropout; scratch is [B, a, T, T].
// The model's buffers today are [B, a, T, T] (src/model/glm_layer.h), so it runs the
// unfused path unchanged; allocating probs as [B, a, T] on CUDA switches a layer to flash.
// The mask tensors must be on the device; P and L are clamped to [0, T] there (the CPU
// checks them; a device check would cost a synchronisation per layer).
// Head dim d <= 256 on the flash path.
#pragma once

#include "kernels/attention.h"

namespace glm::kernels::cuda {

// The two paths (benchmarks also call them by name to compare them).
void attention_forward_flash(Tensor& ctx, Tensor& lse, const Tensor& qkv,
                             const AttentionMask& mask, const AttentionArgs& args);
void attention_backward_flash(Tensor& dqkv, Tensor& rowdot, const Tensor& dctx, const Tensor& lse,
                              const Tensor& qkv, const AttentionMask& mask,
                              const AttentionArgs& args);
void attention_forward_unfused(Tensor& ctx, Tensor& probs, const Tensor& qkv,
                               const AttentionMask& mask, const AttentionArgs& args);
void attention_backward_unfused(Tensor& dqkv, Tensor& scratch, const Tensor& dctx,
                                const Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                                const AttentionArgs& args);

}  // namespace glm::kernels::cuda
