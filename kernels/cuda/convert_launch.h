// Raw-pointer launchers of the conversion kernels (convert_kernels.cu), called by the
// conversions' entry (kernels/convert.cpp). Kept free of fmt and Tensor so nvcc compiles
// only kernels.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace glm::kernels::cuda {

enum class FloatKind : int { f32, f16, bf16 };

// A tensor's float storage as a kernel takes it: the first element and its type, so one
// kernel reads and writes fp32, fp16 and bf16 tensors as stored (float_kind.cuh loads and
// stores them; float_kind.h makes them from a Tensor). A null p is an absent argument.
struct FloatIn {
  const void* p;
  FloatKind kind;
};
struct FloatOut {
  void* p;
  FloatKind kind;
};
inline FloatIn f32_in(const float* p) { return {p, FloatKind::f32}; }
inline FloatOut f32_out(float* p) { return {p, FloatKind::f32}; }

// dst[i] = src[i] converted between any two of fp32, fp16 and bf16.
cudaError_t launch_convert(void* dst, FloatKind dst_kind, const void* src, FloatKind src_kind,
                           long n, cudaStream_t s);
cudaError_t launch_round_to_f16(float* x, long n, cudaStream_t s);

}  // namespace glm::kernels::cuda
