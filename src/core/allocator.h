// Memory for tensors: host memory aligned for AVX-512, device memory through the CUDA
// caching allocator when the build has CUDA. Every allocation is counted so runs can report
// their current and peak use per device kind and per MemoryKind. (Which CUDA device and
// stream a thread uses: core/cuda_device.h; copies between devices: core/device_copy.h.)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/dtype.h"

namespace glm {

constexpr std::size_t kHostAlignment = 64;  // one cache line, one AVX-512 register

// What an allocation holds, for the per-category accounting of training runs. A tensor
// counts under the category in force on its thread when it was allocated: `workspace`
// unless a MemoryScope says otherwise (the model's parameter and gradient buffers, the
// optimizer's master weights and moments, the activations the forward saves).
enum class MemoryKind : std::uint8_t {
  parameters,
  gradients,
  master,
  optimizer_state,
  activations,
  workspace,
};
inline constexpr int kMemoryKinds = 6;
std::string_view memory_kind_name(MemoryKind k);  // "parameters", ..., "workspace"

// Sets the calling thread's category for its lifetime (nests; restores the previous one).
class MemoryScope {
 public:
  explicit MemoryScope(MemoryKind k);
  ~MemoryScope();
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;

 private:
  MemoryKind previous_;
};
MemoryKind current_memory_kind();

// Throws glm::Error when out of memory. The bytes count under `kind`.
void* device_alloc(Device dev, std::size_t bytes, MemoryKind kind = MemoryKind::workspace);
void device_free(Device dev, void* ptr, std::size_t bytes,
                 MemoryKind kind = MemoryKind::workspace);

struct MemoryStats {
  std::size_t in_use = 0;
  std::size_t peak = 0;
  // Per MemoryKind: bytes now, and each category's own peak since the last reset.
  std::array<std::size_t, kMemoryKinds> in_use_by{}, peak_by{};
};
MemoryStats memory_stats(DeviceKind kind);
void reset_peak_memory(DeviceKind kind);

// Bytes that could be allocated on `dev` now: the host's MemAvailable (/proc/meminfo; free
// pages where that file is missing), or the GPU's free memory (cudaMemGetInfo). Limits
// that grow with a user's request (a KV cache) are checked against it before allocating.
std::size_t available_memory_bytes(Device dev);

// Hands the host heap's free pages back to the system (glibc's malloc_trim; nothing
// elsewhere). Tools that stream many tensors of different sizes through memory (glm-export,
// glm-ckpt reshard) call it between tensors: glibc raises its mmap threshold after a large
// free, so later tensors come from the heap and their freed pages otherwise stay resident
// (a reshard of small.json's checkpoint: 389 MB peak RSS without it, 169 MB with it).
void trim_host_heap();

}  // namespace glm
