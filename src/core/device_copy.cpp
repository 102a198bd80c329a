#include "core/device_copy.h"

#include <cstring>

#include <fmt/format.h>

#include "core/cuda_device.h"
#include "core/error.h"

#ifdef GLM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace glm {
namespace {

#ifdef GLM_WITH_CUDA
void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {} failed: {}", what, cudaGetErrorString(e)));
}
#endif

}  // namespace

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef GLM_WITH_CUDA
  cudaMemcpyKind kind = dst_dev.is_cpu()   ? cudaMemcpyDeviceToHost
                        : src_dev.is_cpu() ? cudaMemcpyHostToDevice
                                           : cudaMemcpyDeviceToDevice;
  const auto stream = static_cast<cudaStream_t>(current_cuda_stream());
  cuda_check(cudaMemcpyAsync(dst, src, bytes, kind, stream), "cudaMemcpyAsync");
  // Host memory may be read or freed as soon as this returns.
  if (kind != cudaMemcpyDeviceToDevice) cuda_check(cudaStreamSynchronize(stream), "cudaMemcpy");
#else
  throw Error("copy to or from a CUDA device in a build without CUDA");
#endif
}

void zero_bytes(void* dst, Device dev, std::size_t bytes) {
  if (bytes == 0) return;
  if (dev.is_cpu()) {
    std::memset(dst, 0, bytes);
    return;
  }
#ifdef GLM_WITH_CUDA
  cuda_check(cudaMemsetAsync(dst, 0, bytes, static_cast<cudaStream_t>(current_cuda_stream())),
             "cudaMemsetAsync");
#else
  throw Error("zeroing CUDA device memory in a build without CUDA");
#endif
}

}  // namespace glm
