// The optimizer state a checkpoint stores for one rank: fp32 master weights and Adam
// moments over the rank's parameter layout, each one flat f32 [layout.total()] buffer
// (parameters at ParamSpec::offset; the alignment padding between them is not saved).
#pragma once

#include "core/tensor.h"
#include "spec/param_layout.h"

namespace glm::optim {

struct OptimizerTensors {
  const model::ParamLayout* layout = nullptr;
  Tensor master, exp_avg, exp_avg_sq;
};

}  // namespace glm::optim
