// Raw-pointer launchers of the conversion kernels (convert_kernels.cu), called by the
// conversions' entry (kernels/convert.cpp). Kept free of fmt and Tensor so nvcc compiles
// only kernels.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace glm::kernels::cuda {

enum class FloatKind : int { f32, f16, bf16 };

// dst[i] = src[i] converted between any two of fp32, fp16 and bf16.
cudaError_t launch_convert(void* dst, FloatKind dst_kind, const void* src, FloatKind src_kind,
                           long n, cudaStream_t s);
cudaError_t launch_round_to_f16(float* x, long n, cudaStream_t s);

}  // namespace glm::kernels::cuda
