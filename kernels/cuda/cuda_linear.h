// Linear layers on CUDA tensors: the CUDA backend of kernels/linear.h (weights [out, in],
// y = x W^T + b; dW and db +=, dx = or +=), called by its entry (kernels/linear.cpp) with
// checked arguments (docs/design.md section 3: 16-bit storage, fp32 accumulation).
//
// fp32: cuBLAS SGEMM (no TF32) after a bias fill, as on the CPU; db is a fixed-order column
// sum (deterministic). 16-bit: one cuBLASLt call per product on the stored f16 or bf16
// tensors, the bias in its epilogue; the weight gradient accumulates into an fp32 main
// gradient (gradient-accumulation fusion).
#pragma once

#include "core/tensor.h"
#include "kernels/linear.h"

namespace glm::kernels::cuda {

// Every tensor f32.
void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b);
void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx = false);

// x stored in f16 or bf16: cuBLASLt multiplies the stored tensors directly with fp32
// accumulation. W and dy are x's type or f32 (an f32 one is converted to x's type first);
// y, dx and dW are f32 or x's type; b and db any float storage (the bias is added in y's
// type, db summed in fp32).
void linear_forward_16bit(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b);
void linear_backward_16bit(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                           const Tensor& W, bool accumulate_dx);

}  // namespace glm::kernels::cuda
