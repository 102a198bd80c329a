#include "kernels/check.h"

namespace glm::kernels {

Device op_device(std::string_view op, std::span<const Arg> args) {
  const Arg* on_cuda = nullptr;
  for (const Arg& a : args)
    if (a.t && a.t->device().is_cuda()) {
      on_cuda = &a;
      break;
    }
  if (!on_cuda) return Device::cpu();
#ifndef GLM_WITH_CUDA
  throw Error(
      fmt::format("op {}: the CPU kernel got a device tensor {} ({}; this build has no "
                  "CUDA backend)",
                  op, on_cuda->t->describe(), on_cuda->name));
#else
  for (const Arg& a : args)
    GLM_CHECK(!a.t || a.t->device().is_cuda(),
              "cuda::{}: {} must be on a CUDA device like {}, got {}", op, a.name, on_cuda->name,
              a.t->describe());
  return on_cuda->t->device();
#endif
}

}  // namespace glm::kernels
