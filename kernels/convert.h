// Conversion between fp32, fp16 and bf16, rounding to nearest even (F16C for fp16 on CPUs
// that have it, the scalar core/half.h otherwise; bit-identical). round_to_f16 leaves fp32
// values that a store to fp16 would produce; overflow becomes inf.
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

// f32, f16 or bf16: the dtypes a floating-point tensor may be stored in.
bool is_float_storage(DType t);
// dst = src, each f32, f16 or bf16 (a copy when the dtypes are the same), same numel.
void convert(Tensor& dst, const Tensor& src);
void f32_to_f16(Tensor& dst, const Tensor& src);  // dst f16, src f32, same numel
void f16_to_f32(Tensor& dst, const Tensor& src);  // dst f32, src f16
void round_to_f16(Tensor& x);                     // f32 in place
// f32 in place: the values a store to `storage` (f16 or bf16) and back would leave.
void round_to(Tensor& x, DType storage);

}  // namespace glm::kernels
