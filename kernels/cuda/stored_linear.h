// The CUDA backend of kernels::stored_linear_forward (kernels/stored_linear.h) for fp16 and
// INT8/INT4 weights; the entry there has checked the arguments.
#pragma once

#include "kernels/stored_linear.h"

namespace glm::kernels::cuda {

// y f32 [n, out] = x f32 [n, in] W^T (+ the bias when with_bias), on the current stream.
void stored_linear_forward(Tensor& y, const Tensor& x, const LinearWeight& W, bool with_bias);

}  // namespace glm::kernels::cuda
