// The precision a run with train.precision "auto" (glm-train --precision auto) trains in:
// bf16 where the CPU multiplies bf16 natively (kernels/gemm.h: AVX512-BF16 or AMX), which
// halves the GEMM time, else fp32. On CUDA fp32: its bf16 products still widen to SGEMM.
#pragma once

#include "core/dtype.h"
#include "modeldef/precision.h"

namespace glm::config {

modeldef::Precision auto_precision(Device dev);

}  // namespace glm::config
