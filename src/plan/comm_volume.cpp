#include "plan/comm_volume.h"

#include "config/layout.h"
#include "modeldef/param_layout.h"
#include "parallel/data_parallel.h"

namespace glm::plan {

std::uint64_t ring_all_reduce_bytes(int p, std::uint64_t elements, std::uint64_t elem) {
  return p > 1 ? 2ull * (p - 1) * elem * elements / p : 0;
}

CommBytes step_comm_bytes(const modeldef::ModelConfig& c, const config::ParallelConfig& p,
                          int tp_rank, int stage, int micro_batch, std::int64_t micro_batches,
                          std::int64_t head_rows, bool recompute_full, const WireBytes& wire,
                          bool logged) {
  const int t = p.tp, D = p.dp, P = p.pp;
  const modeldef::ModelShard shard = config::shard_for(c, p, tp_rank, stage);
  const std::uint64_t h = c.hidden_size, R = std::uint64_t(micro_batch) * c.seq_length;
  const std::uint64_t M = micro_batches, n = head_rows;
  const std::uint64_t layers = shard.end_layer(c) - shard.first_layer;
  const std::uint64_t act = wire.activation, grad = wire.gradient;
  CommBytes e;
  // TP, per micro-batch: 2 all-reduces of [R, h] per layer forward (row-parallel outputs),
  // 2 in its backward (column-parallel inputs), 2 more when the backward reruns the forward;
  // the embedding's forward all-reduce; the head's all-gather of the row maxima [n], the
  // all-reduce of [n, 2] partial sums (fp32 statistics) and the backward all-reduce of [n, h].
  const std::uint64_t per_layer = recompute_full ? 6 : 4;
  e.tp = M * layers * per_layer * ring_all_reduce_bytes(t, R * h, act);
  if (shard.has_embedding) e.tp += M * ring_all_reduce_bytes(t, R * h, act);
  if (shard.has_head)
    e.tp += (t > 1 ? (t - 1) * 4ull * n : 0) + ring_all_reduce_bytes(t, 2 * n, 4) +
            ring_all_reduce_bytes(t, n * h, act);
  // PP: each micro-batch's output [R, h] forward, its input gradient backward.
  if (!shard.has_head) e.pp += M * act * R * h;
  if (!shard.has_embedding) e.pp += M * act * R * h;
  // Embedding group (pp > 1): the tied embedding's gradient [V/t, h] summed over 2 ranks.
  if (P > 1 && (shard.has_embedding || shard.has_head))
    e.embedding = ring_all_reduce_bytes(2, std::uint64_t(c.vocab_size / t) * h, grad);
  // DP: the global target count (1 double), then the flat gradient buffer: layer by layer
  // all-reduce, or under ZeRO-1 reduce-scatter + all-gather of the padded shards.
  const std::uint64_t total = modeldef::ParamLayout(c, shard).total();
  e.dp = ring_all_reduce_bytes(D, 1, 8);
  if (D > 1) {
    if (p.zero) {
      const parallel::ShardPlan plan(static_cast<std::int64_t>(total), D);
      e.dp += std::uint64_t(D - 1) * (grad + wire.parameter) * plan.shard;
    } else {
      e.dp += ring_all_reduce_bytes(D, total, grad);
    }
  }
  // World: loss, overflow flag and squared norm (3 doubles) agreed by every rank; on a
  // logged step also the health sums (per parameter group: the squares of the gradients, of
  // the update and of the updated weights).
  e.world = ring_all_reduce_bytes(D * t * P, 3, 8);
  if (logged) e.world += ring_all_reduce_bytes(D * t * P, 3 * (c.num_layers + 2ull), 8);
  // and each rank's largest attention logit of the first and last layer, in its own slot
  if (logged) e.world += ring_all_reduce_bytes(D * t * P, 2ull * D * t * P, 8);
  return e;
}

}  // namespace glm::plan
