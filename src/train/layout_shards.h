// Which part of the model each rank of a DP x TP x PP layout holds (DESIGN.md section 4),
// shared by the trainer, checkpoint writing and `glm-ckpt reshard`.
//
//   ModelShard s = shard_for(config.model, config.parallel, /*tp_rank=*/1, /*stage=*/0);
//   for (const RankShard& w : checkpoint_writers(config.model, config.parallel)) ...
#pragma once

#include <vector>

#include "model/param_layout.h"
#include "train/checkpoint.h"
#include "train/run_config.h"

namespace glm::train {

// Stage `stage`'s layers (pipeline_layer_split with the config's first/last-stage size),
// embedding on stage 0, head on the last, TP slice tp_rank of p.tp. InputError when the
// layers do not split over p.pp.
model::ModelShard shard_for(const model::ModelConfig& c, const ParallelConfig& p, int tp_rank,
                            int stage);

// The batch schedule against a layout: every batch size of the ramp-up (start, increment,
// full) a multiple of micro_batch x dp, and at least as many micro-batches per step as
// pipeline stages (1F1B would otherwise idle stages for the whole step). InputError naming
// the sizes and the config file.
void check_batch_layout(const RunConfig& rc, int micro_batch, int dp, int pp);

// The ranks that write checkpoint files: DP rank 0 of every (tp, stage) position, as
// world rank tp + TP * DP * stage (parallel/topology.h), with their shards.
std::vector<RankShard> checkpoint_writers(const model::ModelConfig& c, const ParallelConfig& p);

}  // namespace glm::train
