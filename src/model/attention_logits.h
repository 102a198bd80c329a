// The largest attention logit of a micro-batch, a training-health signal (docs/training.md):
// max over every head and every allowed (query i, key j) pair of q_i . k_j / sqrt(d), the
// pre-softmax score before query-key layer scaling's c cancels (kernels/attention.h). Growing
// attention logits are the instability GLM-130B answered with an fp32 softmax and layer
// scaling. Computed on the host from the layer's saved qkv [B, T, a, 3, d] (after RoPE),
// only on logged steps and only for the layers asked for, so its cost is one extra score GEMM
// per such layer; -inf when no pair is allowed.
#pragma once

#include "core/tensor.h"
#include "kernels/attention.h"

namespace glm::model {

double max_attention_logit(const Tensor& qkv, const kernels::AttentionMask& mask, int heads,
                           int head_dim);

}  // namespace glm::model
