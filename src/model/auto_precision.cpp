#include "model/auto_precision.h"

#include "kernels/gemm.h"

namespace glm::model {

Precision auto_precision(Device dev) {
  if (dev.is_cpu() && kernels::gemm16_path(DType::bf16) == kernels::Gemm16Path::native)
    return Precision::bf16;
  return Precision::fp32;
}

}  // namespace glm::model
