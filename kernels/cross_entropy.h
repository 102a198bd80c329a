// Fused softmax + cross-entropy over rows of logits, forward and backward in one pass.
//
// logits [R, V] fp32 holds only rows that carry a target (the model gathers them before
// the head GEMM, so no logits are computed for positions without loss).
//   loss[r]    = logsumexp(logits[r]) - logits[r, targets[r]]
//   dlogits[r] = grad_scale * (softmax(logits[r]) - onehot(targets[r]))
// With write_grad, logits is overwritten in place by dlogits (saving a [R, V] buffer).
// A target < 0 marks a row to ignore (loss 0, dlogits row 0), so a caller may keep rows
// without a target; a target >= V is an InputError naming the row and value.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                           float grad_scale, bool write_grad);

}  // namespace glm::kernels
