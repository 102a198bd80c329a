#include "kernels/cuda/device_description.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include "kernels/cuda/cuda_stream.h"

namespace glm::kernels::cuda {

std::string device_description(int index) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
  return fmt::format("{} (sm_{}{})", p.name, p.major, p.minor);
}

}  // namespace glm::kernels::cuda
