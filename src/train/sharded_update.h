// ZeRO-1 (DESIGN.md section 4): the fp32 master weights and Adam moments are split over the
// DP group; each rank keeps one contiguous shard of the flat parameter buffer.
//
// A step: reduce_grads() reduce-scatters the flat gradients, so this rank holds the summed
// gradients of its shard; the optimizer updates its shard of master weights and moments
// (optim::AdamW on the shard's ElementRange); gather() all-gathers the updated shards into
// the full parameter buffer every rank computes with. Checkpoints gather the moments with
// gather() too, so they hold whole tensors and load into any layout.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "optim/param_range.h"
#include "parallel/communicator.h"
#include "parallel/data_parallel.h"

namespace glm::train {

class ShardedUpdate {
 public:
  // The exchange buffers live on `dev`, the device of the gradients and master weights
  // (CUDA with an NCCL group).
  ShardedUpdate(parallel::Communicator& dp, std::int64_t total, Device dev = Device::cpu());

  // This rank's [begin, end) of the flat buffer.
  optim::ElementRange range() const;

  // grads [total] -> this rank's summed gradient shard, shard_grads() [range().size()].
  void reduce_grads(const Tensor& grads);
  Tensor shard_grads() const;

  // shard [range().size()] of every rank -> full [total].
  void gather(const Tensor& shard, Tensor& full);

 private:
  parallel::Communicator& dp_;
  parallel::ShardPlan plan_;
  Tensor padded_;       // [plan.padded]: the flat buffer padded to equal shards
  Tensor shard_;        // [plan.shard]: one rank's shard (padded)
};

}  // namespace glm::train
