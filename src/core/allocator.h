// Memory for tensors: host memory aligned for AVX-512, device memory through the CUDA
// runtime when the build has CUDA. Every allocation is counted so runs can report their
// current and peak use per device kind.
#pragma once

#include <cstddef>
#include <string>

#include "core/dtype.h"

namespace glm {

constexpr std::size_t kHostAlignment = 64;  // one cache line, one AVX-512 register

void* device_alloc(Device dev, std::size_t bytes);  // throws glm::Error when out of memory
void device_free(Device dev, void* ptr, std::size_t bytes);

struct MemoryStats {
  std::size_t in_use = 0;
  std::size_t peak = 0;
};
MemoryStats memory_stats(DeviceKind kind);
void reset_peak_memory(DeviceKind kind);

// Bytes that could be allocated on `dev` now: the host's MemAvailable (/proc/meminfo; free
// pages where that file is missing), or the GPU's free memory (cudaMemGetInfo). Limits
// that grow with a user's request (a KV cache) are checked against it before allocating.
std::size_t available_memory_bytes(Device dev);

// True when this build links the CUDA runtime (GLM_CUDA=ON); says nothing about a GPU.
bool built_with_cuda();
// Number of CUDA devices visible now (0 without CUDA or without a GPU).
int cuda_device_count();
// The calling thread's current CUDA device (0 without CUDA), and setting it (kernels run on
// the current device; a rank of a GPU job picks its own once, before any CUDA work).
int current_cuda_device();
void set_current_cuda_device(int index);
// Waits until every queued operation on the current CUDA device is done (no-op without CUDA).
void cuda_synchronize();
// "NVIDIA H100 80GB HBM3" for device `index` ("" without CUDA).
std::string cuda_device_name(int index);

// The calling thread's current CUDA stream (a cudaStream_t; null is the legacy default
// stream): kernels/cuda enqueue their work there (kernels/cuda/cuda_stream.h's StreamScope
// sets it), and copy_bytes / zero_bytes run there too, so they are ordered with the kernels.
void* current_cuda_stream();
void set_current_cuda_stream(void* stream);

// Copies bytes between any two devices. A copy that involves host memory has completed
// when it returns; a device-to-device copy is enqueued on the current stream.
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes);
// Sets bytes to zero: memset on the host, cudaMemsetAsync on the current stream on a GPU
// (no host buffer, no copy).
void zero_bytes(void* dst, Device dev, std::size_t bytes);

}  // namespace glm
