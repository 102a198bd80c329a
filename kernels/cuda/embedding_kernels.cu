// Embedding kernels, then launchers. Forward: one thread per output element. Backward: one
// thread per hidden column walks every row in order, so repeated tokens add in row order
// (deterministic, no atomics), as kernels/cpu/embedding.cpp does; parallel over h only,
// which fills an H100 for h >= ~4096 (a sorted segment reduction is the upgrade path). The
// table, x and dx are read and written as stored (fp32, fp16 or bf16); dtable is fp32.
#include <cuda_runtime.h>

#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/pointwise_launch.h"

namespace glm::kernels::cuda {
namespace {

__global__ void embedding_forward_element_per_thread(FloatOut x, const std::int32_t* tokens,
                                                     FloatIn table, std::int64_t R,
                                                     std::int64_t V, std::int64_t h,
                                                     std::int64_t vocab_start,
                                                     std::int64_t vocab_total, int* bad_row) {
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       t < R * h; t += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = t / h, c = t % h;
    const std::int64_t tok = tokens[r];
    if ((tok < 0 || tok >= vocab_total) && c == 0) atomicMin(bad_row, static_cast<int>(r));
    const std::int64_t local = tok - vocab_start;
    store(x, t, local >= 0 && local < V ? load(table, local * h + c) : 0.f);
  }
}

__global__ void embedding_backward_column_per_thread(float* dtable, FloatIn dx,
                                                     const std::int32_t* tokens, float alpha,
                                                     std::int64_t R, std::int64_t V,
                                                     std::int64_t h, std::int64_t vocab_start,
                                                     int* bad_row) {
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; c < h;
       c += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    for (std::int64_t r = 0; r < R; ++r) {
      const std::int64_t tok = tokens[r];
      if (tok < 0) {
        if (c == 0) atomicMin(bad_row, static_cast<int>(r));
        continue;
      }
      const std::int64_t local = tok - vocab_start;
      if (local < 0 || local >= V) continue;
      dtable[local * h + c] += alpha * load(dx, r * h + c);
    }
  }
}

}  // namespace

cudaError_t launch_embedding_forward(FloatOut x, const std::int32_t* tokens, FloatIn table,
                                     std::int64_t R, std::int64_t V, std::int64_t h,
                                     std::int64_t vocab_start, std::int64_t vocab_total,
                                     int* bad_row, cudaStream_t s) {
  if (R * h == 0) return cudaSuccess;
  embedding_forward_element_per_thread<<<grid_stride_blocks(R * h, 256), 256, 0, s>>>(
      x, tokens, table, R, V, h, vocab_start, vocab_total, bad_row);
  return cudaGetLastError();
}

cudaError_t launch_embedding_backward(float* dtable, FloatIn dx, const std::int32_t* tokens,
                                      float alpha, std::int64_t R, std::int64_t V, std::int64_t h,
                                      std::int64_t vocab_start, int* bad_row, cudaStream_t s) {
  if (R * h == 0) return cudaSuccess;
  embedding_backward_column_per_thread<<<grid_stride_blocks(h, 128), 128, 0, s>>>(
      dtable, dx, tokens, alpha, R, V, h, vocab_start, bad_row);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
