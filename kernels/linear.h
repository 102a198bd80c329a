// Linear layer ops on fp32 rows, built on gemm.h. Weights are stored [out, in] as in the
// paper's y = x W^T + b.
//
// Accumulate contract: dW and db are accumulated (+=), because gradients sum over
// micro-batches; dx is overwritten unless accumulate_dx is set.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

// Every tensor is f32, f16 or bf16 (kernels/linear.cpp says which path each mix takes):
// fp32 products of fp32 tensors (cuBLAS SGEMM, no TF32, on CUDA), the 16-bit GEMM with fp32
// accumulation for 16-bit activations.

// y [R, out] = x [R, in] * W[out, in]^T + b[out]      (b may be null)
void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b);

// dx [R, in] (= or +=) dy W;  dW [out, in] += dy^T x;  db [out] += sum_r dy[r]
// dx may be null (the input needs no gradient).
void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx = false);

// y [R, out] += b [out] on every row: the bias of a row-parallel linear layer, added once
// after its partial products are summed over the tensor-parallel group.
void add_bias(Tensor& y, const Tensor& b);

}  // namespace glm::kernels
