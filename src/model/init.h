// DeepNorm initialisation of a model's parameters (docs/design.md section 2), drawn from Philox.
//
// Each element's value is a function of (seed, parameter name, global element index), so a
// parameter gets the same values whatever layout, stage or rank initialises it.
//   matrices:  normal(0, xavier), xavier = sqrt(2 / (fan_in + fan_out)) per projection
//              (q, k, v each [h, h]; each GeGLU half [f, h]), times beta =
//              (2N)^(-1/2) for the value rows of QKV, the attention output and both MLP
//              matrices (query and key rows are not scaled)
//   embedding: normal(0, init_std);  biases and LN beta: 0;  LN gamma: 1
// The values are drawn in fp32; a 16-bit buffer receives them rounded to nearest even.
#pragma once

#include <cstdint>

#include "modeldef/param_layout.h"

namespace glm::model {

void deepnorm_init(modeldef::FlatParams& params, std::uint64_t seed);

}  // namespace glm::model
