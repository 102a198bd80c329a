// A single int32 on the device that kernels report into (the first bad row of an input,
// an overflow flag), read back by the host after the kernel: the one synchronisation the
// data checks of embedding, cross-entropy, gather/scatter and all_finite need.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/cuda/cuda_stream.h"

namespace glm::kernels::cuda {

class DeviceFlag {
 public:
  explicit DeviceFlag(std::int32_t initial);  // written on the current stream
  std::int32_t* get() { return t_.data<std::int32_t>(); }
  // Copies the value back on the current stream and waits for it.
  std::int32_t read();

 private:
  Tensor t_;
};

// Reads element i of a device i32 tensor (error messages name the offending value).
std::int32_t read_i32(const Tensor& t, std::int64_t i);

}  // namespace glm::kernels::cuda
