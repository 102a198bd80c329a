// ZeRO-1's data-parallel exchange over the DP group (docs/design.md section 4), used by the
// sharded optimizer (optim/sharded_optimizer.h) and costed by the planner (src/plan/).
// (Plain DP all-reduces layer by layer during the backward: train/grad_reduce.h.)
// The flat buffer is cut into DP equal, contiguous shards (ShardPlan); gradients
// are reduce-scattered so each rank holds the summed gradients of its shard, AdamW updates
// that shard's fp32 master weights and moments, and the updated parameters are
// all-gathered. Sharding is offset arithmetic on the flat buffer; optim::AdamW updates any
// element range.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "parallel/communicator.h"

namespace glm::parallel {

// ZeRO-1 shards of a flat buffer of `total` elements over `dp_size` ranks.
struct ShardPlan {
  std::int64_t total = 0;   // elements in the flat buffer
  std::int64_t padded = 0;  // total rounded up to a multiple of dp_size * 16
  std::int64_t shard = 0;   // padded / dp_size: elements per rank (64-byte multiple)
  int dp_size = 1;

  ShardPlan(std::int64_t total, int dp_size);
  // The [begin, end) elements of the flat buffer rank r owns (clipped to total).
  std::int64_t begin(int r) const { return std::min(total, shard * r); }
  std::int64_t end(int r) const { return std::min(total, shard * (r + 1)); }
};

// grads_padded [plan.padded] (the flat gradients followed by zeros) -> out [plan.shard]:
// the summed gradients of this rank's shard.
void reduce_scatter_shard(Communicator& dp, const ShardPlan& plan, const Tensor& grads_padded,
                          Tensor& out);
// shard [plan.shard] of every rank -> full_padded [plan.padded], both of one dtype and moved
// as stored: f32, or 16-bit parameters at 2 bytes an element. The shard may be this rank's
// own place in full_padded (an in-place gather).
void all_gather_shards(Communicator& dp, const ShardPlan& plan, const Tensor& shard,
                       Tensor& full_padded);
// Elements per rank of one all_gather_parts when a gather cannot land in a padded buffer of
// its dtype (optim/sharded_optimizer.h: an unpadded 16-bit parameter buffer, and the fp32
// state a checkpoint gathers into unpadded tensors).
inline constexpr std::int64_t kGatherChunk = std::int64_t{1} << 20;
// part [n] of every rank -> out [dp.size() * n], in rank order (a piece of each shard).
void all_gather_parts(Communicator& dp, const Tensor& part, Tensor& out);

}  // namespace glm::parallel
