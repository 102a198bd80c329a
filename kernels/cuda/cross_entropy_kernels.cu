// Fused softmax + cross-entropy, then its launcher. One block per row of logits: three
// passes over the row (max; sum of exp; the gradient, exp recomputed so that a 16-bit row is
// written once, with one rounding), the row (V values, 600 KB in fp32 at V = 150k) streaming
// through L2. Logits are read and written as stored (fp32, fp16 or bf16), arithmetic in
// fp32. Reductions are block-wide in a fixed order (deterministic).
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/pointwise_launch.h"

namespace glm::kernels::cuda {
namespace {

constexpr int kThreads = 512;

__global__ void softmax_cross_entropy_block_per_row(float* losses, FloatOut logits,
                                                    const std::int32_t* targets, std::int64_t V,
                                                    float grad_scale, bool write_grad,
                                                    int* bad_row) {
  __shared__ float part[kThreads / 32];
  const std::int64_t r = blockIdx.x;
  const long row = r * V;
  const auto x = [&](std::int64_t j) { return load(logits, row + j); };
  const std::int32_t target = targets[r];
  if (target >= V) {
    if (threadIdx.x == 0) atomicMin(bad_row, static_cast<int>(r));
    return;
  }
  if (target < 0) {
    if (write_grad)
      for (std::int64_t j = threadIdx.x; j < V; j += kThreads) store(logits, row + j, 0.f);
    if (threadIdx.x == 0) losses[r] = 0.f;
    return;
  }
  // Read before the gradient pass overwrites the row (the reductions' barriers order it).
  const float x_target = x(target);
  float m = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < V; j += kThreads) m = fmaxf(m, x(j));
  m = block_reduce<kThreads, true>(m, part);
  float sum = 0.f;
  for (std::int64_t j = threadIdx.x; j < V; j += kThreads) sum += expf(x(j) - m);
  sum = block_reduce<kThreads, false>(sum, part);
  if (write_grad) {
    const float k = grad_scale / sum;
    for (std::int64_t j = threadIdx.x; j < V; j += kThreads)
      store(logits, row + j, expf(x(j) - m) * k - (j == target ? grad_scale : 0.f));
  }
  // loss = logsumexp(x) - x[t] = log(sum) + m - x[t]
  if (threadIdx.x == 0) losses[r] = logf(sum) + (m - x_target);
}

}  // namespace

cudaError_t launch_softmax_cross_entropy(float* losses, FloatOut logits,
                                         const std::int32_t* targets, std::int64_t R,
                                         std::int64_t V, float grad_scale, bool write_grad,
                                         int* bad_row, cudaStream_t s) {
  if (R == 0) return cudaSuccess;
  if (R > 2147483647) return cudaErrorInvalidValue;
  softmax_cross_entropy_block_per_row<<<static_cast<unsigned>(R), kThreads, 0, s>>>(
      losses, logits, targets, V, grad_scale, write_grad, bad_row);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
