// Device-side reads and writes of one element of fp32, fp16 or bf16 storage (FloatKind,
// convert_launch.h), for kernels that take any float storage through a void pointer. The
// kind is uniform across a launch, so the branch costs no divergence. Rounding is to nearest
// even, as on the CPU (core/half.h).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

__device__ __forceinline__ float load_as_float(const void* p, FloatKind k, long i) {
  if (k == FloatKind::f16) return __half2float(static_cast<const __half*>(p)[i]);
  if (k == FloatKind::bf16) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

__device__ __forceinline__ void store_float(void* p, FloatKind k, long i, float v) {
  if (k == FloatKind::f16)
    static_cast<__half*>(p)[i] = __float2half_rn(v);
  else if (k == FloatKind::bf16)
    static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
  else
    static_cast<float*>(p)[i] = v;
}

__device__ __forceinline__ float load(FloatIn t, long i) { return load_as_float(t.p, t.kind, i); }
__device__ __forceinline__ float load(FloatOut t, long i) { return load_as_float(t.p, t.kind, i); }
__device__ __forceinline__ void store(FloatOut t, long i, float v) { store_float(t.p, t.kind, i, v); }

}  // namespace glm::kernels::cuda
