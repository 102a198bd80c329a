// fp32 / fp16 / bf16 conversion kernels, then their launchers.
// Grid-stride loops: one launch covers any n at memory bandwidth. Every rounding
// is to nearest even (__float2half_rn, __float2bfloat16_rn), as on the CPU (core/half.h).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/convert_launch.h"
#include "kernels/cuda/float_kind.cuh"

namespace glm::kernels::cuda {
namespace {

__global__ void round_to_f16_grid_stride(float* __restrict__ x, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    x[i] = __half2float(__float2half_rn(x[i]));
}

__global__ void convert_grid_stride(void* __restrict__ dst, FloatKind dk,
                                    const void* __restrict__ src, FloatKind sk, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    store_float(dst, dk, i, load_as_float(src, sk, i));
}

int grid_for(long n) {
  long blocks = (n + 255) / 256;
  return static_cast<int>(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

}  // namespace

cudaError_t launch_round_to_f16(float* x, long n, cudaStream_t s) {
  round_to_f16_grid_stride<<<grid_for(n), 256, 0, s>>>(x, n);
  return cudaGetLastError();
}

cudaError_t launch_convert(void* dst, FloatKind dst_kind, const void* src, FloatKind src_kind,
                           long n, cudaStream_t s) {
  convert_grid_stride<<<grid_for(n), 256, 0, s>>>(dst, dst_kind, src, src_kind, n);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
