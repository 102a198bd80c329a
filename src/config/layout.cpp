#include "config/layout.h"

#include <fmt/format.h>

#include "core/error.h"
#include "parallel/pipeline_schedule.h"

namespace glm::config {

modeldef::ModelShard shard_for(const modeldef::ModelConfig& c, const ParallelConfig& p, int tp_rank,
                               int stage) {
  const std::vector<int> split =
      parallel::pipeline_layer_split(c.num_layers, p.pp, p.pipeline_first_last_layers);
  int first = 0;
  for (int s = 0; s < stage; ++s) first += split[s];
  modeldef::ModelShard shard;
  shard.first_layer = first;
  shard.last_layer = first + split[stage];
  shard.has_embedding = stage == 0;
  shard.has_head = stage == p.pp - 1;
  shard.tp_rank = tp_rank;
  shard.tp_size = p.tp;
  return shard;
}

void check_batch_layout(const RunConfig& rc, int mb, int D, int P) {
  const auto& bc = rc.batch;
  for (std::int64_t b : {bc.global_batch_size, bc.rampup() ? bc.rampup_start : bc.global_batch_size,
                         bc.rampup() ? bc.rampup_increment : bc.global_batch_size})
    if (b % (std::int64_t{mb} * D) != 0)
      throw InputError(fmt::format(
          "{}: batch sizes (global_batch_size {}, rampup_start {}, rampup_increment {}) must be "
          "multiples of train.micro_batch_size x dp = {} x {}",
          rc.source, bc.global_batch_size, bc.rampup_start, bc.rampup_increment, mb, D));
  const std::int64_t smallest = bc.rampup() ? bc.rampup_start : bc.global_batch_size;
  if (smallest / (std::int64_t{mb} * D) < P)
    throw InputError(fmt::format(
        "{}: {} micro-batches per step (batch {} / (train.micro_batch_size {} x dp {})) is fewer "
        "than the {} pipeline stages; use a larger batch or smaller micro-batches",
        rc.source, smallest / (std::int64_t{mb} * D), smallest, mb, D, P));
}

}  // namespace glm::config
