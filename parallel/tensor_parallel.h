// Tensor-parallel communication (Megatron style, docs/design.md section 4), named for what it
// does to a tensor. A tensor-parallel layer is then plain math around these calls:
//
//   column-parallel linear (QKV, W1): y_shard = x W_shard^T     forward: copy_to_tp (no-op)
//                                                                backward: dx summed over TP
//   row-parallel linear (dense, W2):  y = sum_ranks x_shard W_shard^T + b
//                                                                forward: reduce_from_tp
//                                                                backward: identity
//   vocab-parallel embedding:         x = sum_ranks E_shard[tokens in shard]
//   vocab-parallel cross-entropy:     the loss of full-vocabulary logits from [R, V/t] shards,
//                                     combining row maxima and sums only: [R] + [R, 2]
//                                     floats per rank instead of [R, V].
// Every function is the identity (no communication) when tp is null or has one rank.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "parallel/communicator.h"

namespace glm::parallel {

// Forward of a row-parallel layer's output (and of the vocab-parallel embedding): x is
// summed over the TP group in place. Its backward is the identity.
void reduce_from_tp(Communicator* tp, Tensor& x);

// Backward of a column-parallel layer's replicated input: each rank's partial gradient
// dx_shard = dy_shard W_shard is summed over the TP group in place. Its forward is the
// identity (every rank already holds the input).
void copy_to_tp_backward(Communicator* tp, Tensor& dx);

// losses [R] of logits_shard [R, V/t] (vocabulary ids from vocab_start); with write_grad the
// shard becomes grad_scale * (softmax - onehot) over its columns, as
// kernels::softmax_cross_entropy does for full logits (which it calls without TP).
void vocab_parallel_cross_entropy(Communicator* tp, Tensor& losses, Tensor& logits_shard,
                                  const Tensor& targets, std::int64_t vocab_start,
                                  float grad_scale, bool write_grad);

}  // namespace glm::parallel
