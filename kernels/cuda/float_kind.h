// The FloatKind (convert_launch.h) the CUDA launchers take for a tensor's float storage type,
// for host code that holds a DType.
#pragma once

#include "core/dtype.h"
#include "core/tensor.h"
#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

// f16 and bf16 map to their kinds; every other type to f32 (callers pass float storage).
inline FloatKind float_kind(DType t) {
  return t == DType::f16 ? FloatKind::f16 : t == DType::bf16 ? FloatKind::bf16 : FloatKind::f32;
}

// A tensor's storage for a kernel that reads (FloatIn) or writes (FloatOut) it as stored; an
// absent optional tensor (null) is a null pointer.
inline FloatIn float_in(const Tensor& t) { return {t.raw(), float_kind(t.dtype())}; }
inline FloatIn float_in(const Tensor* t) { return t ? float_in(*t) : FloatIn{nullptr, FloatKind::f32}; }
inline FloatOut float_out(Tensor& t) { return {t.raw(), float_kind(t.dtype())}; }
inline FloatOut float_out(Tensor* t) {
  return t ? float_out(*t) : FloatOut{nullptr, FloatKind::f32};
}

}  // namespace glm::kernels::cuda
