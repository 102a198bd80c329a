#include "parallel/data_parallel.h"

#include <algorithm>

#include "core/error.h"
#include "parallel/tensor_span.h"

namespace glm::parallel {

ShardPlan::ShardPlan(std::int64_t total_, int dp_size_) : total(total_), dp_size(dp_size_) {
  GLM_CHECK(dp_size >= 1, "dp size {}", dp_size);
  const std::int64_t unit = std::int64_t{dp_size} * 16;
  padded = (total + unit - 1) / unit * unit;
  shard = padded / dp_size;
}

void reduce_scatter_shard(Communicator& dp, const ShardPlan& plan, const Tensor& grads_padded,
                          Tensor& out) {
  GLM_CHECK(grads_padded.numel() == plan.padded && out.numel() == plan.shard,
            "reduce_scatter_shard: {} -> {} for plan {} / {}", grads_padded.describe(),
            out.describe(), plan.padded, plan.shard);
  dp.reduce_scatter_sum(floats(dp, grads_padded), floats(dp, out));
}

void all_gather_shards(Communicator& dp, const ShardPlan& plan, const Tensor& shard,
                       Tensor& full_padded) {
  GLM_CHECK(full_padded.numel() == plan.padded && shard.numel() == plan.shard &&
                shard.dtype() == full_padded.dtype(),
            "all_gather_shards: {} -> {}", shard.describe(), full_padded.describe());
  dp.all_gather(message(dp, shard), message(dp, full_padded));
}

void all_gather_parts(Communicator& dp, const Tensor& part, Tensor& out) {
  GLM_CHECK(out.numel() == part.numel() * dp.size(), "all_gather_parts: {} x {} ranks -> {}",
            part.describe(), dp.size(), out.describe());
  dp.all_gather(floats(dp, part), floats(dp, out));
}

}  // namespace glm::parallel
