// LayerNorm over the last dimension (size h) of [R, h] fp32 rows, and the DeepNorm
// residual that feeds it (docs/design.md section 2):
//
//   forward:            y = (x - mean) * rstd * gamma + beta,  rstd = 1/sqrt(var + eps)
//   residual forward:   s = alpha * a + f;  y = LN(s)          (s is saved for backward)
//   backward:           g = dy + alpha_res * dres  (dres may be null: g = dy)
//                       dx = rstd * (gamma*g - mean(gamma*g) - xhat * mean(gamma*g*xhat))
//
// mean and rstd are [R] fp32, saved by forward for backward. Statistics use fp32.
// Accumulate contract: dgamma and dbeta +=, dx =.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

void layernorm_forward(Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& x,
                       const Tensor& gamma, const Tensor& beta, float eps);

void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd,
                                const Tensor& a, const Tensor& f, float alpha,
                                const Tensor& gamma, const Tensor& beta, float eps);

// x is the LN input (s for the residual form); the upstream gradient is dy + alpha_res*dres.
void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x,
                        const Tensor& mean, const Tensor& rstd, const Tensor& gamma);

}  // namespace glm::kernels
