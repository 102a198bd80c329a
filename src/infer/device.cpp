#include "infer/device.h"

#include "core/error.h"
#include "core/cuda_device.h"

namespace glm::infer {

Device parse_device(std::string_view name) {
  if (name != "cuda") return parse_device(name, built_with_cuda(), 0);
  return parse_device(name, built_with_cuda(), built_with_cuda() ? cuda_device_count() : 0);
}

Device parse_device(std::string_view name, bool built_with_cuda, int cuda_devices) {
  if (name == "cpu") return Device::cpu();
  if (name != "cuda") throw InputError(fmt::format("--device {}: expected cpu or cuda", name));
  if (!built_with_cuda)
    throw InputError(
        "--device cuda: this build lacks CUDA (it was configured with GLM_CUDA=OFF or without "
        "nvcc; rebuild with -DGLM_CUDA=ON); use --device cpu");
  if (cuda_devices <= 0)
    throw InputError(
        "--device cuda: no CUDA device present (this build has CUDA, but the CUDA runtime sees "
        "no GPU); use --device cpu");
  return Device::cuda(0);
}

kernels::QuantActivations parse_activations(std::string_view name) {
  if (name == "fp32") return kernels::QuantActivations::fp32;
  if (name == "int8") return kernels::QuantActivations::int8;
  throw InputError(fmt::format("--activations {}: expected fp32 or int8", name));
}

DType parse_kv_cache(std::string_view name) {
  if (name == "fp32") return DType::f32;
  if (name == "fp16") return DType::f16;
  throw InputError(fmt::format("--kv-cache {}: expected fp32 or fp16", name));
}

}  // namespace glm::infer
