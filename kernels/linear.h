// Linear layer ops on fp32 rows, built on gemm.h. Weights are stored [out, in] as in the
// paper's y = x W^T + b.
//
// Accumulate contract: dW and db are accumulated (+=), because gradients sum over
// micro-batches; dx is overwritten unless accumulate_dx is set.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

// The operands' precision in the product. f16: the caller promises that x, W and dy hold
// fp16-representable values (the fp16 mode of docs/design.md section 3 stores every weight,
// activation and gradient that enters a product rounded to fp16). CUDA then converts the
// operands to fp16 (exactly) and multiplies on tensor cores with fp32 accumulation and fp32
// outputs; the CPU multiplies the same values in fp32, so the two differ only in the order
// of the fp32 sums. f32: plain fp32 products (cuBLAS SGEMM, no TF32, on CUDA).
enum class MatmulInputs { f32, f16 };

// y [R, out] = x [R, in] * W[out, in]^T + b[out]      (b may be null)
void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                    MatmulInputs inputs = MatmulInputs::f32);

// dx [R, in] (= or +=) dy W;  dW [out, in] += dy^T x;  db [out] += sum_r dy[r]
// dx may be null (the input needs no gradient).
void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx = false,
                     MatmulInputs inputs = MatmulInputs::f32);

// y [R, out] += b [out] on every row: the bias of a row-parallel linear layer, added once
// after its partial products are summed over the tensor-parallel group.
void add_bias(Tensor& y, const Tensor& b);

}  // namespace glm::kernels
