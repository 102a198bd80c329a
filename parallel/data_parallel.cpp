#include "parallel/data_parallel.h"

#include <algorithm>

#include "core/error.h"
#include "parallel/tensor_span.h"

namespace glm::parallel {

void all_reduce_buckets(Communicator& dp, Tensor& flat, std::int64_t bucket_bytes) {
  float* p = floats(dp, flat).data();
  if (dp.size() == 1) return;
  const std::int64_t n = flat.numel(), per = std::max<std::int64_t>(1, bucket_bytes / 4);
  // Buckets from the end of the buffer: the last layers' gradients are ready first.
  for (std::int64_t end = n; end > 0; end -= per) {
    const std::int64_t begin = std::max<std::int64_t>(0, end - per);
    dp.all_reduce_sum(std::span<float>(p + begin, static_cast<std::size_t>(end - begin)));
  }
}

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
  GLM_CHECK(full_padded.numel() == plan.padded && shard.numel() == plan.shard,
            "all_gather_shards: {} -> {}", shard.describe(), full_padded.describe());
  dp.all_gather(floats(dp, shard), floats(dp, full_padded));
}

}  // namespace glm::parallel
