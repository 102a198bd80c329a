// Raw-pointer launchers of the LayerNorm kernels (layernorm_kernels.cu); math and shapes of
// kernels/layernorm.h: rows [R, h] of any float storage (read and written as stored,
// arithmetic in fp32), mean/rstd [R], gamma/beta and their gradients [h] fp32.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

// With a_res.p != nullptr: s = alpha * a_res + x_or_f is written to s first, then normalised
// (the DeepNorm residual form); otherwise x_or_f is normalised directly (s unused).
cudaError_t launch_layernorm_forward(FloatOut y, float* mean, float* rstd, FloatOut s,
                                     FloatIn a_res, float alpha, FloatIn x_or_f,
                                     const float* gamma, const float* beta, std::int64_t R,
                                     std::int64_t h, float eps, cudaStream_t st);

// dx = ... (overwritten); dgamma, dbeta += (two-stage, deterministic); partials is a
// workspace of row_chunks(R) * 2 * h floats (launch_config.h).
cudaError_t launch_layernorm_backward(FloatOut dx, float* dgamma, float* dbeta, float* partials,
                                      FloatIn dy, FloatIn dres, float alpha_res, FloatIn x,
                                      const float* mean, const float* rstd,
                                      const float* gamma, std::int64_t R, std::int64_t h,
                                      cudaStream_t st);

// db[j] += sum_r dy[r, j] for dy [R, n] of any float storage (the linear bias gradient,
// summed in fp32; same two-stage scheme; partials holds row_chunks(R) * n floats).
cudaError_t launch_column_sums(float* db, float* partials, FloatIn dy, std::int64_t R,
                               std::int64_t n, cudaStream_t st);

// y[r, :] = b for every row (the bias fill before a beta = 1 GEMM).
cudaError_t launch_fill_rows(float* y, const float* b, std::int64_t R, std::int64_t n,
                             cudaStream_t st);

}  // namespace glm::kernels::cuda
