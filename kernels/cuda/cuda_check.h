// Argument checks of the Tensor-level CUDA ops (the kernels/cuda counterpart of
// kernels/cpu/check.h): every tensor must live on the current CUDA device, be contiguous
// and have the expected dtype and shape. Shape mismatches are caller bugs (GLM_CHECK).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/cuda/cuda_stream.h"

namespace glm::kernels::cuda {

inline void require_device(std::string_view op, std::string_view name, const Tensor& t) {
  GLM_CHECK(t.device().is_cuda(), "{}: {} must be on a CUDA device, got {}", op, name,
            t.describe());
}

inline void require_tensor(std::string_view op, std::string_view name, const Tensor& t,
                           DType dtype) {
  require_device(op, name, t);
  GLM_CHECK(t.dtype() == dtype, "{}: {} is {}, expected {}", op, name, t.describe(),
            dtype_name(dtype));
  GLM_CHECK(t.is_contiguous(), "{}: {} must be contiguous, got {} with strides {}", op, name,
            t.describe(), shape_str(t.strides()));
}
inline void require_f32(std::string_view op, std::string_view name, const Tensor& t) {
  require_tensor(op, name, t, DType::f32);
}
inline void require_i32(std::string_view op, std::string_view name, const Tensor& t) {
  require_tensor(op, name, t, DType::i32);
}
inline void require_shape(std::string_view op, std::string_view name, const Tensor& t,
                          const Shape& expected) {
  GLM_CHECK(t.shape() == expected, "{}: {} has shape {}, expected {}", op, name,
            shape_str(t.shape()), shape_str(expected));
}
inline void require_numel(std::string_view op, std::string_view name, const Tensor& t,
                          std::int64_t expected) {
  GLM_CHECK(t.numel() == expected, "{}: {} has {} elements, expected {}", op, name, t.numel(),
            expected);
}
inline std::int64_t rows_of(const Tensor& t) {
  if (t.dim() == 0) return 1;
  const std::int64_t c = t.size(-1);
  return c == 0 ? 0 : t.numel() / c;
}

// A launcher's return code: throws naming the op.
inline void check_launch(cudaError_t e, std::string_view op) { check(e, op); }

// True when any of the given tensors lives on a CUDA device (the dispatch test in
// kernels/cpu/*.cpp; null pointers are absent optional arguments).
inline bool on_cuda_one(const Tensor& t) { return t.device().is_cuda(); }
inline bool on_cuda_one(const Tensor* t) { return t && t->device().is_cuda(); }
template <class... Ts>
bool any_on_cuda(const Ts&... ts) {
  return (on_cuda_one(ts) || ...);
}

}  // namespace glm::kernels::cuda
