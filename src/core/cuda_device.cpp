#include "core/cuda_device.h"

#include <fmt/format.h>

#include "core/error.h"

#ifdef GLM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace glm {

bool built_with_cuda() {
#ifdef GLM_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef GLM_WITH_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

namespace {
thread_local void* t_current_stream = nullptr;
}

void* current_cuda_stream() { return t_current_stream; }
void set_current_cuda_stream(void* stream) { t_current_stream = stream; }

int current_cuda_device() {
#ifdef GLM_WITH_CUDA
  int d = 0;
  if (cudaGetDevice(&d) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return d;
#else
  return 0;
#endif
}

void set_current_cuda_device(int index) {
#ifdef GLM_WITH_CUDA
  const cudaError_t e = cudaSetDevice(index);
  if (e != cudaSuccess)
    throw Error(fmt::format("cudaSetDevice({}): {}", index, cudaGetErrorString(e)));
#else
  throw Error(fmt::format("cannot select CUDA device {}: this build has no CUDA backend", index));
#endif
}

void cuda_synchronize() {
#ifdef GLM_WITH_CUDA
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess)
    throw Error(fmt::format("cudaDeviceSynchronize: {}", cudaGetErrorString(e)));
#endif
}

std::string cuda_device_name(int index) {
#ifdef GLM_WITH_CUDA
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return p.name;
#else
  (void)index;
  return "";
#endif
}

}  // namespace glm
