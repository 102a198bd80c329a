// The optimizer state a checkpoint stores for one rank: fp32 master weights and Adam
// moments over a range of the rank's parameter layout (parameters at ParamSpec::offset; the
// alignment padding between them is not saved). The range is the whole flat buffer
// [0, layout.total()) or one DP rank's ZeRO-1 shard of it, cut anywhere: each tensor is
// flat f32 [range.size()], element i being flat element range.begin + i.
#pragma once

#include <optional>

#include "core/tensor.h"
#include "modeldef/param_layout.h"
#include "modeldef/param_range.h"

namespace glm::checkpoint {

struct OptimizerTensors {
  const modeldef::ParamLayout* layout = nullptr;
  // A tensor left undefined is not read by the loader (glm-export reads the master only);
  // a save writes all three.
  Tensor master, exp_avg, exp_avg_sq;
  std::optional<modeldef::ElementRange> range;  // the part of the flat buffer held; none: all of it

  modeldef::ElementRange flat_range() const { return range ? *range : full_range(*layout); }
};

}  // namespace glm::checkpoint
