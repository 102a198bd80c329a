// GeGLU kernels, then launchers. Elementwise over [R, f], grid-stride; u, g, dg and du are
// read and written as stored (fp32, fp16 or bf16), the arithmetic is fp32. The tanh is written
// the overflow-safe way of kernels/cpu/geglu.cpp: with a = exp(-2|y|) in (0, 1],
// 1 + tanh(y) = 2/(1+a) (y >= 0) or 2a/(1+a) (y < 0); nothing overflows or cancels.
#include <cuda_runtime.h>

#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/pointwise_launch.h"

namespace glm::kernels::cuda {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// Element (r, j) of u [R, 2f] = [x1 | z]: x1, z, and the sign of y = sqrt(2/pi) (z + 0.044715
// z^3) with a = exp(-2|y|), from which each kernel forms its 1 +- tanh(y).
struct GeluInputs {
  float x1, z, a;
  bool y_nonnegative;
};

__device__ __forceinline__ GeluInputs gelu_inputs(FloatIn u, std::int64_t r, std::int64_t j,
                                                  std::int64_t f) {
  const float x1 = load(u, r * 2 * f + j), z = load(u, r * 2 * f + f + j);
  const float y = kSqrt2OverPi * (z + kCubic * z * z * z);
  return {x1, z, expf(-2.f * fabsf(y)), y >= 0.f};
}

__global__ void geglu_forward_grid_stride(FloatOut g, FloatIn u, std::int64_t R,
                                          std::int64_t f) {
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       t < R * f; t += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = t / f, j = t % f;
    const auto [x1, z, a, y_nonnegative] = gelu_inputs(u, r, j, f);
    const float half_one_plus_t = (y_nonnegative ? 1.f : a) / (1.f + a);
    store(g, t, x1 * (z * half_one_plus_t));
  }
}

// du1 = dg * GELU(z);  du2 = dg * x1 * GELU'(z)
// GELU'(z) = 0.5 (1 + t) + 0.5 z (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2)
__global__ void geglu_backward_grid_stride(FloatOut du, FloatIn dg, FloatIn u, std::int64_t R,
                                           std::int64_t f) {
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       t < R * f; t += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = t / f, j = t % f;
    const auto [x1, z, a, y_nonnegative] = gelu_inputs(u, r, j, f);
    const float inv = 2.f / (1.f + a);
    const float one_plus_t = y_nonnegative ? inv : a * inv;
    const float one_minus_t = y_nonnegative ? a * inv : inv;
    const float gelu = 0.5f * z * one_plus_t;
    const float dgelu = 0.5f * one_plus_t + 0.5f * z * one_plus_t * one_minus_t * kSqrt2OverPi *
                                                (1.f + 3.f * kCubic * z * z);
    const float d = load(dg, t);
    store(du, r * 2 * f + j, d * gelu);
    store(du, r * 2 * f + f + j, d * x1 * dgelu);
  }
}

}  // namespace

cudaError_t launch_geglu_forward(FloatOut g, FloatIn u, std::int64_t R, std::int64_t f,
                                 cudaStream_t s) {
  if (R * f == 0) return cudaSuccess;
  geglu_forward_grid_stride<<<grid_stride_blocks(R * f, 256), 256, 0, s>>>(g, u, R, f);
  return cudaGetLastError();
}

cudaError_t launch_geglu_backward(FloatOut du, FloatIn dg, FloatIn u, std::int64_t R,
                                  std::int64_t f, cudaStream_t s) {
  if (R * f == 0) return cudaSuccess;
  geglu_backward_grid_stride<<<grid_stride_blocks(R * f, 256), 256, 0, s>>>(du, dg, u, R, f);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
