// GeGLU activation (docs/design.md section 2): u = W1 m + b1 has 2f columns split in halves
//   x1 = u[:, :f], x2 = u[:, f:],  g = x1 * GELU(x2)
// GELU with the tanh approximation:
//   GELU(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))
// Shapes: u [R, 2f], g [R, f], fp32. Backward overwrites du.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

void geglu_forward(Tensor& g, const Tensor& u);
void geglu_backward(Tensor& du, const Tensor& dg, const Tensor& u);

}  // namespace glm::kernels
