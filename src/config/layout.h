// What a DP x TP x PP layout means for a run (docs/design.md section 4): which part of the model
// each rank holds, and whether the run's batch schedule fits the layout. Shared by the
// trainer, checkpoint writing and resharding, and the planner.
//
//   ModelShard s = shard_for(config.model, config.parallel, /*tp_rank=*/1, /*stage=*/0);
//   check_batch_layout(config, config.train.micro_batch_size, dp, pp);
#pragma once

#include "config/run_config.h"
#include "modeldef/param_layout.h"

namespace glm::config {

// Stage `stage`'s layers (pipeline_layer_split with the config's first/last-stage size),
// embedding on stage 0, head on the last, TP slice tp_rank of p.tp. InputError when the
// layers do not split over p.pp.
modeldef::ModelShard shard_for(const modeldef::ModelConfig& c, const ParallelConfig& p, int tp_rank,
                               int stage);

// The batch schedule against a layout: every batch size of the ramp-up (start, increment,
// full) a multiple of micro_batch x dp, and at least as many micro-batches per step as
// pipeline stages (1F1B would otherwise idle stages for the whole step). InputError naming
// the sizes and the config file.
void check_batch_layout(const RunConfig& rc, int micro_batch, int dp, int pp);

}  // namespace glm::config
