// Raw-pointer launcher of the fused AdamW update (adamw_kernels.cu).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/adamw_step.h"
#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

using kernels::AdamWStepConstants;

// A run of elements [begin, end) (local frame) with one weight-decay decision, at most
// kAdamWChunk elements long: one block per chunk (multi-tensor-apply style).
struct AdamWChunk {
  std::int64_t begin, end;
  std::int32_t decay;
};
constexpr std::int64_t kAdamWChunk = 1 << 16;

// rounded (absent, or as many f16 or bf16 elements as p) also receives each updated p
// rounded to nearest even, in the same pass.
cudaError_t launch_adamw(float* p, float* m, float* v, const float* grad, FloatOut rounded,
                         const AdamWChunk* chunks, std::int64_t num_chunks,
                         const AdamWStepConstants& c, cudaStream_t s);

}  // namespace glm::kernels::cuda
