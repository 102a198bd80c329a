// Checks of the Tensor-level CUDA functions that callers reach directly rather than through
// an op entry (kernels/check.h runs the entries' checks): each tensor must live on a CUDA
// device as well as have the dtype and layout (shape checks are kernels/check.h's). And
// check_launch, for a raw-pointer launcher's return code.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/check.h"
#include "kernels/cuda/cuda_stream.h"

namespace glm::kernels::cuda {

inline void require_device(std::string_view op, std::string_view name, const Tensor& t) {
  GLM_CHECK(t.device().is_cuda(), "{}: {} must be on a CUDA device, got {}", op, name,
            t.describe());
}

inline void require_tensor(std::string_view op, std::string_view name, const Tensor& t,
                           DType dtype) {
  require_device(op, name, t);
  require_layout(op, name, t, dtype);
}
inline void require_f32(std::string_view op, std::string_view name, const Tensor& t) {
  require_tensor(op, name, t, DType::f32);
}
inline void require_i32(std::string_view op, std::string_view name, const Tensor& t) {
  require_tensor(op, name, t, DType::i32);
}

// A launcher's return code: throws naming the op.
inline void check_launch(cudaError_t e, std::string_view op) { check(e, op); }

}  // namespace glm::kernels::cuda
