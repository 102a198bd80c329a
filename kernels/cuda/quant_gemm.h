// CUDA weight-only INT4/INT8 linear layers for inference (docs/design.md section 8): the GPU
// counterparts of kernels/quant.h, reading the same format (kernels::QuantWeight with its
// q and scales on the device). Weights are dequantized in registers inside the product;
// there is never a full fp16 copy of W.
//
//   y [n, out] = x [n, in] * dequant(W)^T + b        x f16; y f32 or f16; b f16 [out] or null
//   dequant(W)[o][i] = q[o][i] * float(scale[o][i / G]), accumulation in fp32
//
// Paths (quant_gemm_plan.h): n == 1 is a bandwidth-bound GEMV on CUDA cores (128-bit weight
// loads, x in shared memory, warp-shuffle reduction); n >= 2 uses tensor cores
// (mma.m16n8k16, fp32 accumulators) so each dequantized weight serves up to 64 rows of x;
// odd shapes (rows not 16-byte aligned, G not a multiple of the vector width) take a plain
// warp-per-row kernel. Work goes on `stream` (nullptr = the legacy default stream).
// The linears are the CUDA backend of kernels::quant_linear_forward / f16_linear_forward,
// whose entries check the arguments (before any CUDA call); quantize_weight checks its own.
#pragma once

#include "core/tensor.h"
#include "kernels/cuda/quant_gemm_plan.h"
#include "kernels/quant.h"

namespace glm::kernels::cuda {

// y [n, out] (f32 or f16) = x f16 [n, in] * dequant(W)^T + b (f16 [out] or null).
void quant_linear_forward(Tensor& y, const Tensor& x, const QuantWeight& W, const Tensor* b,
                          void* stream = nullptr);

// The same product with fp16 weights W f16 [out, in]: the fp16 baseline of the same kernels.
void f16_linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                        void* stream = nullptr);

// W f32 or f16 [out, in] on the device -> Q.q and Q.scales, which the caller allocates on the
// device with Q.bits, Q.out, Q.in and Q.group set (shapes as in kernels/quant.h). The bytes
// equal kernels::quantize_weight's for the same fp32 values.
void quantize_weight(QuantWeight& Q, const Tensor& W, void* stream = nullptr);

// The launch shape quant_linear_forward / f16_linear_forward use for this problem on device
// `index` (bits 16 = fp16 weights): exposed for the tests and the benchmark.
QuantGemmPlan quant_gemm_plan(const QuantGemmShape& shape, int device_index = 0);

}  // namespace glm::kernels::cuda
