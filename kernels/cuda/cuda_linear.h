// Linear layers on CUDA tensors: the CUDA backend of kernels/linear.h (weights [out, in],
// y = x W^T + b; dW and db +=, dx = or +=), called by its entry (kernels/linear.cpp) with
// checked arguments; plus an fp16-storage forward that callers reach directly and that
// checks its own arguments (docs/design.md section 3: fp16 storage, fp32 accumulation).
//
// fp32: cuBLAS SGEMM (no TF32) after a bias fill, as on the CPU; db is a fixed-order column
// sum (deterministic). fp16: one cuBLASLt call with the bias in its epilogue; the weight
// gradient accumulates into an fp32 main gradient (gradient-accumulation fusion).
#pragma once

#include "core/tensor.h"
#include "kernels/linear.h"

namespace glm::kernels::cuda {

// inputs = f16 (fp32 tensors holding fp16 values, kernels/linear.h): the operands are
// converted to fp16 scratch (exact) and multiplied by cuBLASLt on tensor cores with fp32
// accumulation into the fp32 outputs (the bias in the epilogue; dW accumulates in fp32).
void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                    MatmulInputs inputs = MatmulInputs::f32);
void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx = false,
                     MatmulInputs inputs = MatmulInputs::f32);
// y f16 [R, out] = x f16 [R, in] W f16 [out, in]^T + b (f16 [out] or null), fp32 accumulate.
void linear_forward_f16(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b);
}  // namespace glm::kernels::cuda
