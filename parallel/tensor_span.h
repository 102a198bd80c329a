// An f32 tensor as the std::span a Communicator moves (one place that checks the tensor is
// contiguous fp32 and that the group can reach its memory): host memory for every
// communicator; CUDA device memory only for one that takes it (NcclCommunicator). A device
// tensor handed to an MPI group is refused with a message naming both, instead of MPI
// reading a device pointer.
#pragma once

#include <span>

#include "core/error.h"
#include "core/tensor.h"
#include "parallel/communicator.h"

namespace glm::parallel {

inline std::span<float> floats(const Communicator& group, Tensor& t) {
  GLM_CHECK(t.dtype() == DType::f32 && t.is_contiguous(),
            "communication needs a contiguous f32 tensor, got {}", t.describe());
  GLM_CHECK(t.device().is_cpu() || group.takes_device_memory(),
            "group '{}' moves host memory only (MPI), got {}: a CUDA run needs NCCL groups",
            group.name(), t.describe());
  return {t.data<float>(), static_cast<std::size_t>(t.numel())};
}
inline std::span<const float> floats(const Communicator& group, const Tensor& t) {
  return floats(group, const_cast<Tensor&>(t));
}

// A message that is moved, never summed (pipeline activations and their gradients, ZeRO-1's
// gathered parameters): the tensor's bytes as it is stored, f32 or 16-bit (the precision
// policy's pipeline_messages), carried as 4-byte words.
inline std::span<float> message(const Communicator& group, Tensor& t) {
  GLM_CHECK((t.dtype() == DType::f32 || t.dtype() == DType::f16 || t.dtype() == DType::bf16) &&
                t.is_contiguous() && t.nbytes() % 4 == 0,
            "a moved message must be a contiguous f32, f16 or bf16 tensor of whole 4-byte "
            "words, got {}", t.describe());
  GLM_CHECK(t.device().is_cpu() || group.takes_device_memory(),
            "group '{}' moves host memory only (MPI), got {}: a CUDA run needs NCCL groups",
            group.name(), t.describe());
  return {static_cast<float*>(t.raw()), t.nbytes() / 4};
}
inline std::span<const float> message(const Communicator& group, const Tensor& t) {
  return message(group, const_cast<Tensor&>(t));
}

}  // namespace glm::parallel
