// Token embedding lookup and its backward with embedding-gradient shrink (EGS).
//
// table is [V_local, h] holding vocabulary rows [vocab_start, vocab_start + V_local) (the
// whole vocabulary without tensor parallelism). Rows whose token is outside that range
// are written as zeros (the vocab-parallel embedding sums the pieces).
//   forward:  x[r] = table[tokens[r] - vocab_start]
//   backward: dtable[tokens[r] - vocab_start] += alpha * dx[r]
// alpha is EGS's alpha_e (GLM-130B: 0.1): E*alpha + E.detach()*(1-alpha) passes alpha of
// the gradient to E. The backward is deterministic (no atomics; fixed summation order).
// A token outside [0, vocab_total) is an InputError naming the row and value.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels {

void embedding_forward(Tensor& x, const Tensor& tokens, const Tensor& table,
                       std::int64_t vocab_start, std::int64_t vocab_total);
void embedding_backward(Tensor& dtable, const Tensor& dx, const Tensor& tokens, float alpha,
                        std::int64_t vocab_start);

}  // namespace glm::kernels
