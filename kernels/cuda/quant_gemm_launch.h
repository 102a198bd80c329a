// Raw-pointer launchers of the weight-only GEMV/GEMM and quantize kernels
// (quant_gemm_kernels.cu). Free of fmt and Tensor so nvcc compiles only kernels;
// quant_gemm.cpp checks Tensors and calls these. fp16 values travel as uint16_t bits.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/quant_gemm_plan.h"

namespace glm::kernels::cuda {

struct QuantGemmArgs {
  void* y = nullptr;                     // [n, out] f32, or f16 when y_f16
  bool y_f16 = false;
  const std::uint16_t* x = nullptr;      // f16 [n, in]
  const std::uint8_t* w = nullptr;       // int4: [out, in/2] bytes; int8: [out, in]; fp16: [out, in]
  const std::uint16_t* scales = nullptr; // f16 [out, in/group] (unused for fp16 weights)
  const std::uint16_t* bias = nullptr;   // f16 [out] or null
  int n = 0, out = 0, in = 0, group = 0;
  int bits = 4;                          // 4, 8, or 16 (fp16 weights)
};

// y = x * dequant(W)^T + bias with the kernel `plan` names (plan_quant_gemm of these args).
// Loops over rows of x when the plan covers fewer per launch.
cudaError_t launch_quant_gemm(const QuantGemmArgs& a, const QuantGemmPlan& plan, cudaStream_t s);

// W [out, in] (f32, or f16 when w_f16) -> q and f16 scales [out, in/group] in the format of
// kernels/quant.h, bit-identical to the definition (one warp per row group).
cudaError_t launch_quantize_weight(std::uint8_t* q, std::uint16_t* scales, const void* w,
                                   bool w_f16, int out, int in, int group, int bits,
                                   cudaStream_t s);

}  // namespace glm::kernels::cuda
