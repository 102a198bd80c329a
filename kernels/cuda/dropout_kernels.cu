// Dropout kernel, then its launcher. One thread per 4 columns of a row: one Philox draw gives
// the 4 uniforms (the CPU's lanes), grid-stride; src and dst as stored (fp32, fp16 or bf16).
#include <cuda_runtime.h>

#include "kernels/cuda/dropout_device.cuh"
#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"

namespace glm::kernels::cuda {
namespace {

__global__ void dropout_four_columns_per_thread(FloatOut dst, FloatIn src, std::int64_t G,
                                                std::int64_t I, std::int64_t C,
                                                std::int64_t rows, DropoutParams d) {
  const std::int64_t quads = ceil_div(C, 4), n = rows * quads;
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; t < n;
       t += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t rr = t / quads, q = t % quads;
    const std::int64_t b = rr / (G * I), g = (rr / I) % G, i = rr % I;
    const philox::Block bits = dropout_block(d, dropout_row_of(d, b, g, i, I), q);
    for (int lane = 0; lane < 4; ++lane) {
      const std::int64_t c = 4 * q + lane;
      if (c >= C) break;
      const float u = philox::to_uniform(block_lane(bits, lane));
      store(dst, rr * C + c, u >= d.p ? load(src, rr * C + c) * d.scale : 0.f);
    }
  }
}

}  // namespace

cudaError_t launch_dropout(FloatOut dst, FloatIn src, std::int64_t B, std::int64_t groups,
                           std::int64_t I, std::int64_t C, const DropoutParams& d,
                           cudaStream_t s) {
  const std::int64_t rows = B * groups * I, n = dropout_threads(rows, C);
  if (n == 0) return cudaSuccess;
  dropout_four_columns_per_thread<<<grid_stride_blocks(n, 256), 256, 0, s>>>(dst, src, groups, I,
                                                                              C, rows, d);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
