// A block-wide max or sum of one float per thread, in a fixed order (warp butterflies, then
// the warps' results in warp order), so every launch of the same shape gives the same bits.
// kThreads is the block size (a multiple of 32); part holds kThreads / 32 floats of shared
// memory, reusable after the call (the trailing barrier).
#pragma once

namespace glm::kernels::cuda {

template <int kThreads, bool kMax>
__device__ float block_reduce(float v, float* part) {
  static_assert(kThreads % 32 == 0, "whole warps");
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, w) : v + w;
  }
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  float r = part[0];
  for (int w = 1; w < kThreads / 32; ++w) r = kMax ? fmaxf(r, part[w]) : r + part[w];
  __syncthreads();  // part is reused by the next reduction
  return r;
}

}  // namespace glm::kernels::cuda
