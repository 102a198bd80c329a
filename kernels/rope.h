// Rotary position embedding on q and k inside the fused QKV activation, in place.
//
// qkv is [R, a, 3, d] fp32 (per row: heads, then q/k/v, then head dim); positions is [R]
// int32. "rotate_half" layout over the full head dim, base b:
//   theta_i = pos * b^(-2i/d),  i < d/2
//   y_i       = x_i cos(theta_i) - x_{i+d/2} sin(theta_i)
//   y_{i+d/2} = x_{i+d/2} cos(theta_i) + x_i sin(theta_i)
// v is left untouched. The backward applies the transposed (inverse) rotation to dq and dk.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

void rope_forward(Tensor& qkv, const Tensor& positions, float base);
void rope_backward(Tensor& dqkv, const Tensor& positions, float base);

}  // namespace glm::kernels
