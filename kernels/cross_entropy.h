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

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels {

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                           float grad_scale, bool write_grad);

// The same loss when each rank holds a vocabulary shard of the logits, [R, V_local] for
// vocabulary ids [vocab_start, vocab_start + V_local) (vocab-parallel cross-entropy,
// parallel/tensor_parallel.h): the caller combines the per-row pieces over the group
// between the three steps, so full logits are never gathered.
//   1. row_max [R]       = max_j logits[r, j]                 (then: max over ranks)
//   2. partials [R, 2]   = sum_j exp(logits[r, j] - M[r]),     (then: sum over ranks)
//                          logits[r, target - vocab_start] if the target is in this shard, else 0
//   3. losses[r]         = log(sum[r]) + M[r] - target_logit[r];  with write_grad, logits
//                          becomes grad_scale * (exp(logits - M) / sum - onehot)
// Targets < 0 are ignored rows (loss 0, gradient 0), as above.
void sharded_ce_row_max(Tensor& row_max, const Tensor& logits);
void sharded_ce_partials(Tensor& partials, const Tensor& logits, const Tensor& targets,
                         const Tensor& row_max, std::int64_t vocab_start);
void sharded_ce_finish(Tensor& losses, Tensor& logits, const Tensor& targets,
                       const Tensor& row_max, const Tensor& totals, std::int64_t vocab_start,
                       float grad_scale, bool write_grad);

}  // namespace glm::kernels
