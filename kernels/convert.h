// fp16 <-> fp32 conversion (F16C on CPUs that have it, the scalar core/half.h otherwise).
// round_to_f16 leaves fp32 values that a store to fp16 would produce: the CPU backend's
// fp16 mode stores activations this way (DESIGN.md section 3); overflow becomes inf.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

void f32_to_f16(Tensor& dst, const Tensor& src);  // dst f16, src f32, same numel
void f16_to_f32(Tensor& dst, const Tensor& src);  // dst f32, src f16
void round_to_f16(Tensor& x);                     // f32 in place

}  // namespace glm::kernels
