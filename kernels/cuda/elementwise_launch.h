// Raw-pointer launchers of the elementwise and reduction kernels (elementwise_kernels.cu).
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

// y = alpha*a + b, each of any float storage.
cudaError_t launch_scaled_add(FloatOut y, float alpha, FloatIn a, FloatIn b, std::int64_t n,
                              cudaStream_t s);
cudaError_t launch_axpy(float* y, float alpha, const float* x, std::int64_t n, cudaStream_t s);
cudaError_t launch_scale(float* y, float alpha, std::int64_t n, cudaStream_t s);

// Partial sums of x^2 in fp64: kSumSquaresBlocks partials written to `partials`, then
// summed in block order into *out (deterministic for a given n).
constexpr int kSumSquaresBlocks = 256;
cudaError_t launch_sum_squares(double* out, double* partials, const float* x, std::int64_t n,
                               cudaStream_t s);

// *flag |= 1 if some element of x is inf or NaN (flag must be zeroed by the caller).
cudaError_t launch_nonfinite_flag(unsigned* flag, const float* x, std::int64_t n,
                                  cudaStream_t s);

// out[r] = src[index[r]] ([R, h] rows, each of any float storage); bad_row = smallest r with index outside [0, rows)
// (left at its initial value, which the caller sets to INT32_MAX, when every index is valid).
cudaError_t launch_gather_rows(FloatOut out, FloatIn src, const std::int32_t* index,
                               std::int64_t R, std::int64_t h, std::int64_t src_rows,
                               int* bad_row, cudaStream_t s);
// dst[index[r]] += src[r] for src [R, h] and dst [dst_rows, h], each of any float storage.
// The rows are grouped by destination with a stable radix sort of the indices, so each
// destination adds its rows in row order in fp32, starting from its stored value, and is
// rounded once: the CPU's op bit for bit, deterministic, no atomics on data. workspace
// holds scatter_add_rows_workspace_bytes(R) bytes; bad_row as in launch_gather_rows (rows
// with an index outside [0, dst_rows) add nothing). R must fit an int.
std::size_t scatter_add_rows_workspace_bytes(std::int64_t R);
cudaError_t launch_scatter_add_rows(FloatOut dst, FloatIn src, const std::int32_t* index,
                                    std::int64_t R, std::int64_t h, std::int64_t dst_rows,
                                    void* workspace, std::size_t workspace_bytes, int* bad_row,
                                    cudaStream_t s);

}  // namespace glm::kernels::cuda
