// An f32 tensor as the std::span the Communicator interface takes (one place that checks
// the tensor is contiguous fp32). Host memory for every communicator; CUDA device memory
// only for one that takes it (NcclCommunicator: the trainer pairs a CUDA model with NCCL
// groups, train/trainer.cpp).
#pragma once

#include <span>

#include "core/error.h"
#include "core/tensor.h"

namespace glm::parallel {

inline std::span<float> floats(Tensor& t) {
  GLM_CHECK(t.dtype() == DType::f32 && t.is_contiguous(),
            "communication needs a contiguous f32 tensor, got {}", t.describe());
  return {t.data<float>(), static_cast<std::size_t>(t.numel())};
}
inline std::span<const float> floats(const Tensor& t) { return floats(const_cast<Tensor&>(t)); }

}  // namespace glm::parallel
