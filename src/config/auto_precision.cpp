#include "config/auto_precision.h"

#include "kernels/gemm.h"

namespace glm::config {

modeldef::Precision auto_precision(Device dev) {
  if (dev.is_cpu() && kernels::gemm16_path(DType::bf16) == kernels::Gemm16Path::native)
    return modeldef::Precision::bf16;
  return modeldef::Precision::fp32;
}

}  // namespace glm::config
