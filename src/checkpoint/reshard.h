// `glm-ckpt reshard`: a checkpoint re-cut for another DP x TP x PP layout, offline, in one
// process. Every rank file of the new layout is filled by re-cutting the stored pieces by
// their global offsets (load_optimizer_tensors), so the result is what the new layout would
// have written itself; training state, config and schedules are carried over unchanged.
//
//   ReshardResult r = reshard_checkpoint("ckpt", std::nullopt, "ckpt_tp4", {.dp = 1, .tp = 4});
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "checkpoint/checkpoint.h"
#include "config/run_config.h"

namespace glm::checkpoint {

struct ReshardResult {
  std::string from_dir;  // the checkpoint read
  CheckpointLayout from, to;
  SaveResult saved;
};

// Verifies the input (files, checksums, pieces) first; InputError naming the file or the
// layout problem (sizes that do not divide the model, layers that do not split).
ReshardResult reshard_checkpoint(const std::string& in_dir, std::optional<std::int64_t> iter,
                                 const std::string& out_root, const config::ParallelConfig& to);

}  // namespace glm::checkpoint
