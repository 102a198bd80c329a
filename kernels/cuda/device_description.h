// The CUDA device's name and compute capability, for messages and benchmark labels.
#pragma once

#include <string>

namespace glm::kernels::cuda {

// Device name and compute capability of device `index`, e.g. "NVIDIA H100 (sm_90)".
std::string device_description(int index);

}  // namespace glm::kernels::cuda
