// LayerNorm and the DeepNorm residual + LayerNorm on CUDA tensors: the GPU side of
// kernels/layernorm.h (same math, shapes and accumulate contract: dgamma, dbeta +=; dx =).
// Statistics in fp32, one warp per row; dgamma/dbeta reduced in a fixed order (no atomics),
// so results repeat bit for bit from run to run.
#pragma once

#include "core/tensor.h"

namespace glm::kernels::cuda {

void layernorm_forward(Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& x,
                       const Tensor& gamma, const Tensor& beta, float eps);
void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd,
                                const Tensor& a, const Tensor& f, float alpha,
                                const Tensor& gamma, const Tensor& beta, float eps);
void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x,
                        const Tensor& mean, const Tensor& rstd, const Tensor& gamma);

}  // namespace glm::kernels::cuda
