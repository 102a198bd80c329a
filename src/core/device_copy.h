// Moving bytes between host and CUDA memory, ordered with the kernels of the calling
// thread's current stream (core/cuda_device.h).
#pragma once

#include <cstddef>

#include "core/dtype.h"

namespace glm {

// Copies bytes between any two devices. A copy that involves host memory has completed
// when it returns; a device-to-device copy is enqueued on the current stream.
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes);
// Sets bytes to zero: memset on the host, cudaMemsetAsync on the current stream on a GPU
// (no host buffer, no copy).
void zero_bytes(void* dst, Device dev, std::size_t bytes);

}  // namespace glm
