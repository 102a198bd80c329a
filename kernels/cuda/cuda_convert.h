// CUDA fp16 <-> fp32 conversion: the GPU counterparts of kernels/convert.h, bit-identical
// to core/half.h (round to nearest even, inf on overflow). Tensors must live on a CUDA
// device; work goes on the given stream (0 = the legacy default stream).
#pragma once

#include "core/tensor.h"

namespace glm::kernels::cuda {

void f32_to_f16(Tensor& dst, const Tensor& src, void* stream = nullptr);
void f16_to_f32(Tensor& dst, const Tensor& src, void* stream = nullptr);
void round_to_f16(Tensor& x, void* stream = nullptr);

// Device name and compute capability of device `index`, e.g. "NVIDIA H100 (sm_90)".
std::string device_description(int index);

}  // namespace glm::kernels::cuda
