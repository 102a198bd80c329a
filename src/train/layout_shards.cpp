#include "train/layout_shards.h"

#include "parallel/pipeline_schedule.h"

namespace glm::train {

model::ModelShard shard_for(const model::ModelConfig& c, const ParallelConfig& p, int tp_rank,
                            int stage) {
  const std::vector<int> split =
      parallel::pipeline_layer_split(c.num_layers, p.pp, p.pipeline_first_last_layers);
  int first = 0;
  for (int s = 0; s < stage; ++s) first += split[s];
  model::ModelShard shard;
  shard.first_layer = first;
  shard.last_layer = first + split[stage];
  shard.has_embedding = stage == 0;
  shard.has_head = stage == p.pp - 1;
  shard.tp_rank = tp_rank;
  shard.tp_size = p.tp;
  return shard;
}

std::vector<RankShard> checkpoint_writers(const model::ModelConfig& c, const ParallelConfig& p) {
  std::vector<RankShard> writers;
  for (int stage = 0; stage < p.pp; ++stage)
    for (int t = 0; t < p.tp; ++t) writers.push_back({t + p.tp * p.dp * stage, shard_for(c, p, t, stage)});
  return writers;
}

}  // namespace glm::train
