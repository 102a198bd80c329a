// The --device, --activations and --kv-cache options of glm-generate and glm-eval. --device: "cpu", or
// "cuda" for the first CUDA device. Asking for cuda is an InputError with the reason when the build has no CUDA
// backend (GLM_CUDA=OFF) or when the runtime sees no GPU.
//
//   Engine engine(load_model_file(path), parse_device(device_option));
#pragma once

#include <string_view>

#include "core/dtype.h"
#include "kernels/quant.h"

namespace glm::infer {

// Decides with this build and this machine (built_with_cuda(), cuda_device_count()).
Device parse_device(std::string_view name);

// The same decision with the facts given, so every branch is testable on any machine.
Device parse_device(std::string_view name, bool built_with_cuda, int cuda_devices);

// --activations: "fp32" (exact) or "int8" (Engine::set_activations); InputError otherwise.
kernels::QuantActivations parse_activations(std::string_view name);

// --kv-cache: "fp32" or "fp16" (Engine::set_kv_cache); InputError otherwise.
DType parse_kv_cache(std::string_view name);

}  // namespace glm::infer
