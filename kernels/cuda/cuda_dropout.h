// The device form of a dropout site (kernels/dropout.h), which the dropout entry
// (kernels/dropout.cpp) and the CUDA attention pass to their kernels. The mask is the same
// Philox draw at the same global coordinates as the CPU's, so both backends drop the same
// elements (tested element by element by the op harness, tests/unit/test_ops_elementwise.cpp).
#pragma once

#include <cstdint>

#include "kernels/cuda/dropout_launch.h"
#include "kernels/dropout.h"

namespace glm::kernels::cuda {

// The device parameter block of a site (key from (seed, kDropout), scale 1/(1-p)).
DropoutParams dropout_params(const DropoutSite& site, float p);

}  // namespace glm::kernels::cuda
