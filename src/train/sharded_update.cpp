#include "train/sharded_update.h"

#include "core/error.h"

namespace glm::train {

ShardedUpdate::ShardedUpdate(parallel::Communicator& dp, std::int64_t total, Device dev)
    : dp_(dp),
      plan_(total, dp.size()),
      padded_(Tensor::zeros({plan_.padded}, DType::f32, dev)),
      shard_(Tensor::zeros({plan_.shard}, DType::f32, dev)) {}

optim::ElementRange ShardedUpdate::range() const {
  return {plan_.begin(dp_.rank()), plan_.end(dp_.rank())};
}

void ShardedUpdate::reduce_grads(const Tensor& grads) {
  GLM_CHECK(grads.numel() == plan_.total, "ZeRO-1: gradients of {} elements, plan of {}",
            grads.numel(), plan_.total);
  // The tail beyond `total` stays zero from construction.
  padded_.slice(0, 0, plan_.total).copy_from(grads.view({plan_.total}));
  parallel::reduce_scatter_shard(dp_, plan_, padded_, shard_);
}

Tensor ShardedUpdate::shard_grads() const { return shard_.slice(0, 0, range().size()); }

void ShardedUpdate::gather(const Tensor& shard, Tensor& full) {
  GLM_CHECK(shard.numel() == range().size() && full.numel() == plan_.total,
            "ZeRO-1 gather: shard {} / full {}", shard.describe(), full.describe());
  // (copies across devices where they differ; the padding tail stays zero)
  shard_.slice(0, 0, shard.numel()).copy_from(shard.view({shard.numel()}));
  parallel::all_gather_shards(dp_, plan_, shard_, padded_);
  full.view({plan_.total}).copy_from(padded_.slice(0, 0, plan_.total));
}

}  // namespace glm::train
