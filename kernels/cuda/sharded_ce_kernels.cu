// The tensor-parallel helpers on CUDA (sharded_ce_launch.h): bias add of row-parallel layers
// and the per-shard passes of the vocab-parallel cross-entropy. One block per logits row,
// block reductions in a fixed order (deterministic), as cross_entropy_kernels.cu. Logits are
// read and written as stored (fp32, fp16 or bf16); the per-row values are fp32.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/sharded_ce_launch.h"

namespace glm::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_bias_grid_stride(FloatOut y, const float* b, std::int64_t R, std::int64_t n) {
  const std::int64_t total = R * n;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x)
    store(y, i, load(y, i) + b[i % n]);
}

__global__ void row_max_block_per_row(float* row_max, FloatIn logits, std::int64_t V) {
  __shared__ float part[kThreads / 32];
  const long row = blockIdx.x * V;
  float m = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < V; j += kThreads) m = fmaxf(m, load(logits, row + j));
  m = block_reduce<kThreads, true>(m, part);
  if (threadIdx.x == 0) row_max[blockIdx.x] = m;
}

__global__ void partials_block_per_row(float* partials, FloatIn logits,
                                       const std::int32_t* targets, const float* row_max,
                                       std::int64_t V, std::int64_t vocab_start) {
  __shared__ float part[kThreads / 32];
  const std::int64_t r = blockIdx.x;
  const long row = r * V;
  const std::int32_t t = targets[r];
  if (t < 0) {
    if (threadIdx.x == 0) partials[2 * r] = partials[2 * r + 1] = 0.f;
    return;
  }
  const float m = row_max[r];
  float sum = 0.f;
  for (std::int64_t j = threadIdx.x; j < V; j += kThreads) sum += expf(load(logits, row + j) - m);
  sum = block_reduce<kThreads, false>(sum, part);
  if (threadIdx.x == 0) {
    const std::int64_t local = std::int64_t{t} - vocab_start;
    partials[2 * r] = sum;
    partials[2 * r + 1] = local >= 0 && local < V ? load(logits, row + local) : 0.f;
  }
}

__global__ void finish_block_per_row(float* losses, FloatOut logits, const std::int32_t* targets,
                                     const float* row_max, const float* totals, std::int64_t V,
                                     std::int64_t vocab_start, float grad_scale,
                                     bool write_grad) {
  const std::int64_t r = blockIdx.x;
  const long row = r * V;
  const std::int32_t t = targets[r];
  if (t < 0) {
    if (threadIdx.x == 0) losses[r] = 0.f;
    if (write_grad)
      for (std::int64_t j = threadIdx.x; j < V; j += kThreads) store(logits, row + j, 0.f);
    return;
  }
  const float m = row_max[r], sum = totals[2 * r];
  if (threadIdx.x == 0) losses[r] = logf(sum) + (m - totals[2 * r + 1]);
  if (!write_grad) return;
  const float k = grad_scale / sum;
  const std::int64_t local = std::int64_t{t} - vocab_start;
  for (std::int64_t j = threadIdx.x; j < V; j += kThreads)
    store(logits, row + j, expf(load(logits, row + j) - m) * k - (j == local ? grad_scale : 0.f));
}

bool bad_rows(std::int64_t R) { return R > 2147483647; }

}  // namespace

cudaError_t launch_add_bias(FloatOut y, const float* b, std::int64_t R, std::int64_t n,
                            cudaStream_t s) {
  if (R == 0 || n == 0) return cudaSuccess;
  add_bias_grid_stride<<<grid_stride_blocks(R * n, 256), 256, 0, s>>>(y, b, R, n);
  return cudaGetLastError();
}

cudaError_t launch_sharded_ce_row_max(float* row_max, FloatIn logits, std::int64_t R,
                                      std::int64_t V, cudaStream_t s) {
  if (R == 0) return cudaSuccess;
  if (bad_rows(R)) return cudaErrorInvalidValue;
  row_max_block_per_row<<<static_cast<unsigned>(R), kThreads, 0, s>>>(row_max, logits, V);
  return cudaGetLastError();
}

cudaError_t launch_sharded_ce_partials(float* partials, FloatIn logits,
                                       const std::int32_t* targets, const float* row_max,
                                       std::int64_t R, std::int64_t V, std::int64_t vocab_start,
                                       cudaStream_t s) {
  if (R == 0) return cudaSuccess;
  if (bad_rows(R)) return cudaErrorInvalidValue;
  partials_block_per_row<<<static_cast<unsigned>(R), kThreads, 0, s>>>(partials, logits, targets,
                                                                        row_max, V, vocab_start);
  return cudaGetLastError();
}

cudaError_t launch_sharded_ce_finish(float* losses, FloatOut logits, const std::int32_t* targets,
                                     const float* row_max, const float* totals, std::int64_t R,
                                     std::int64_t V, std::int64_t vocab_start, float grad_scale,
                                     bool write_grad, cudaStream_t s) {
  if (R == 0) return cudaSuccess;
  if (bad_rows(R)) return cudaErrorInvalidValue;
  finish_block_per_row<<<static_cast<unsigned>(R), kThreads, 0, s>>>(
      losses, logits, targets, row_max, totals, V, vocab_start, grad_scale, write_grad);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
