// One rank's optimizer: AdamW on the fp32 master weights of the flat parameter buffer,
// either over the whole buffer or, with ZeRO-1 (docs/design.md section 4), over this rank's
// contiguous shard of it, the master weights and Adam moments split over the DP group.
// It owns the master weights, the moments, the ZeRO-1 exchange buffers and its range, runs
// the ZeRO-1 collectives, and saves and loads its own state as whole tensors.
//
// Sharded, a step is: reduce_grads() reduce-scatters the flat gradients, so this rank holds
// the summed gradients of its shard; step() runs AdamW on its shard and all-gathers the
// updated shards into the full parameter buffer every rank computes with. Unsharded,
// reduce_grads() hands back the gradients as they are (the DP all-reduce ran during the
// backward) and step() updates the whole buffer. Either way the model's fp32 parameter
// buffer holds the new weights after step(); rounding them to fp16 is the model's job.
//
//   ShardedOptimizer opt(layout, config.adamw(), model.params().flat(),
//                        {.dp = dp, .zero = true, .separate_master = fp16});
//   Tensor g = opt.reduce_grads(model.grads().flat());   // collective when sharded
//   opt.step(g, lr, clip / loss_scale);
//   OptimizerTensors whole = opt.state();                 // for a checkpoint (collective)
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "core/tensor.h"
#include "optim/adamw.h"
#include "optim/optimizer_tensors.h"
#include "optim/param_range.h"
#include "parallel/communicator.h"
#include "parallel/data_parallel.h"
#include "spec/param_layout.h"

namespace glm::optim {

struct ShardingOptions {
  parallel::Communicator* dp = nullptr;  // the DP group (null: one rank)
  bool zero = false;                     // ZeRO-1: shard over dp when it has > 1 rank
  // Keep the master weights apart from the model's buffer (fp16 runs, whose model weights
  // are rounded); otherwise AdamW updates the model's fp32 buffer (or its shard) in place.
  bool separate_master = false;
};

class ShardedOptimizer {
 public:
  // params: the model's flat fp32 parameter buffer [layout.total()] (storage shared); the
  // master weights start as (a copy of) this rank's range of it.
  ShardedOptimizer(std::shared_ptr<const model::ParamLayout> layout, const AdamWConfig& config,
                   Tensor params, const ShardingOptions& options);

  bool sharded() const { return plan_.has_value(); }
  // The elements of the flat buffer this rank updates: all of them, or its ZeRO-1 shard.
  ElementRange range() const { return range_; }

  // grads [total] -> the gradients of range(): reduce-scattered over the DP group when
  // sharded (a collective: every DP rank calls it), else `grads` itself.
  Tensor reduce_grads(const Tensor& grads);
  // One AdamW update of range() with its gradients (from reduce_grads), then
  // write_params(). inv_scale: 1/loss_scale times the clip coefficient.
  void step(const Tensor& grads, double lr, float inv_scale);
  // The model's fp32 parameter buffer from the master weights: all-gathered from every
  // rank's shard when sharded (a collective), copied when the master is separate.
  void write_params();

  // Whole tensors over the layout: views of this optimizer's own buffers when unsharded,
  // gathered from every rank's shard when sharded (a collective: all DP ranks call it).
  OptimizerTensors state();
  // state() in host memory, as checkpoint files are written.
  OptimizerTensors host_state();
  // Restores master weights and moments from whole tensors: `read` fills whole host
  // tensors over the layout (a checkpoint loader), and this rank keeps its range of them.
  // The step count is restored separately (set_step_count).
  void load_state(const std::function<void(const OptimizerTensors&)>& read);

  const AdamW& adamw() const { return *adamw_; }
  std::int64_t step_count() const { return adamw_->step_count(); }
  void set_step_count(std::int64_t t) { adamw_->set_step_count(t); }

 private:
  // shard [range.size()] of every DP rank -> full [total] (sharded only; a collective).
  void gather(const Tensor& shard, Tensor& full);

  std::shared_ptr<const model::ParamLayout> layout_;
  Tensor params_;  // the model's flat buffer
  ShardingOptions options_;
  std::optional<parallel::ShardPlan> plan_;  // set when sharded
  ElementRange range_;
  Tensor padded_;  // [plan.padded]: the flat buffer padded to equal shards (sharded only)
  Tensor shard_;   // [plan.shard]: this rank's shard, padded (sharded only)
  Tensor master_;  // [range.size()]
  std::unique_ptr<AdamW> adamw_;
};

}  // namespace glm::optim
