// RoPE kernel, then its launcher. One thread per (row, head, q|k, i < d/2) pair of
// rotated elements, in place on qkv as stored (fp32, fp16 or bf16); angles in fp32 as kernels/cpu/rope.cpp computes them
// (inv_freq = 1 / base^(2i/d), theta = pos * inv_freq; accurate sincosf, not __sinf).
#include <cuda_runtime.h>

#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/pointwise_launch.h"

namespace glm::kernels::cuda {
namespace {

__global__ void rope_rotate_pair_per_thread(FloatOut qkv, const std::int32_t* positions,
                                            std::int64_t R, std::int64_t a, std::int64_t d,
                                            float base, float sign) {
  const std::int64_t half = d / 2, n = R * a * 2 * half;
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; t < n;
       t += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t i = t % half, which = (t / half) % 2, hd = (t / (2 * half)) % a,
                       r = t / (2 * half * a);
    const float inv_freq = 1.0f / powf(base, static_cast<float>(2 * i) / static_cast<float>(d));
    const float theta = static_cast<float>(positions[r]) * inv_freq;
    float sn, cs;
    sincosf(theta, &sn, &cs);
    const float s = sign * sn;
    const long x = ((r * a + hd) * 3 + which) * d;  // the head's q or k
    const float x1 = load(qkv, x + i), x2 = load(qkv, x + i + half);
    store(qkv, x + i, x1 * cs - x2 * s);
    store(qkv, x + i + half, x2 * cs + x1 * s);
  }
}

}  // namespace

cudaError_t launch_rope(FloatOut qkv, const std::int32_t* positions, std::int64_t R,
                        std::int64_t a, std::int64_t d, float base, float sign, cudaStream_t s) {
  const std::int64_t n = R * a * d;  // 2 (q, k) * d/2 pairs per head
  if (n == 0) return cudaSuccess;
  rope_rotate_pair_per_thread<<<grid_stride_blocks(n, 256), 256, 0, s>>>(qkv, positions, R, a, d,
                                                                          base, sign);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
