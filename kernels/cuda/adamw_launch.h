// Raw-pointer launcher of the fused AdamW update (adamw_kernels.cu).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace glm::kernels::cuda {

// optim/adamw.cpp's per-step constants, folded the same way on the host.
struct AdamWStepConstants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;       // lr / (1 - beta1^t)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
  float eps;
  float decay_keep;  // 1 - lr*wd (decaying elements)
  float inv_scale;
};

// A run of elements [begin, end) (local frame) with one weight-decay decision, at most
// kAdamWChunk elements long: one block per chunk (multi-tensor-apply style).
struct AdamWChunk {
  std::int64_t begin, end;
  std::int32_t decay;
};
constexpr std::int64_t kAdamWChunk = 1 << 16;

cudaError_t launch_adamw(float* p, float* m, float* v, const float* grad,
                         const AdamWChunk* chunks, std::int64_t num_chunks,
                         const AdamWStepConstants& c, cudaStream_t s);

}  // namespace glm::kernels::cuda
