// The bytes one rank sends in one training step, per process group, under the ring models
// of parallel/communicator.h (all-reduce of n elements over p ranks: 2(p-1)/p * n; reduce-
// scatter and all-gather: (p-1) per rank's part; send: n). One function for the planner's
// communication time and for tests/train/test_parallel_layouts.cpp, which checks it against
// the bytes the communicators count in real runs.
#pragma once

#include <cstdint>

#include "config/run_config.h"
#include "modeldef/model_config.h"

namespace glm::plan {

// Bytes per element on the wire (parallel/tensor_span.h): sums travel in fp32; moved tensors
// as they are stored (a 16-bit run's pipeline messages and ZeRO-1 parameter gathers).
struct WireBytes {
  int activation = 4;  // TP all-reduces of [R, h], pipeline sends
  int gradient = 4;    // DP all-reduce / ZeRO reduce-scatter, embedding group
  int parameter = 4;   // ZeRO all-gather of the updated parameters
};

struct CommBytes {
  std::uint64_t tp = 0, dp = 0, pp = 0, embedding = 0, world = 0;
  std::uint64_t total() const { return tp + dp + pp + embedding + world; }
};

// Ring all-reduce of `elements` over p ranks, elem bytes each: 2(p-1)/p * elem * elements.
std::uint64_t ring_all_reduce_bytes(int p, std::uint64_t elements, std::uint64_t elem);

// The rank at (tp_rank, stage) of layout p (p.dp, p.tp, p.pp, p.zero,
// p.pipeline_first_last_layers), running `micro_batches` micro-batches of `micro_batch`
// samples; head_rows: target rows through the head in the whole step (the last stage);
// recompute_full: the backward reruns each layer's forward and its two TP all-reduces.
// logged: a step the trainer logs, which also all-reduces the training-health sums over
// every rank (one per parameter group, optim/training_health.h).
CommBytes step_comm_bytes(const modeldef::ModelConfig& c, const config::ParallelConfig& p,
                          int tp_rank, int stage, int micro_batch, std::int64_t micro_batches,
                          std::int64_t head_rows, bool recompute_full = false,
                          const WireBytes& wire = {}, bool logged = false);

}  // namespace glm::plan
