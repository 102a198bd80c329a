// One rank's optimizer: AdamW on the fp32 master weights of the flat parameter buffer,
// either over the whole buffer or, with ZeRO-1 (docs/design.md section 4), over this rank's
// contiguous shard of it, the master weights and Adam moments split over the DP group.
// It owns the master weights, the moments, the ZeRO-1 exchange buffers and its range, runs
// the ZeRO-1 collectives, and hands out and restores its own range of the state (a checkpoint
// holds each rank's range as written, so nothing is gathered to save or load).
//
// Sharded, a step is: reduce_grads() reduce-scatters the flat gradients (in place, from the
// model's padded gradient buffer), so this rank holds
// the summed gradients of its shard; step() runs AdamW on its shard and all-gathers the
// updated shards as the parameters are stored (fp32, or the 16-bit values AdamW's pass
// rounded), which become the full parameter buffer every rank computes with.
// Unsharded, reduce_grads() hands back the gradients as they are (the DP all-reduce ran
// during the backward) and step() updates the whole buffer. Either way the model's parameter
// buffer holds the new weights after step():
//   - an fp32 buffer (fp32 runs) is the master itself (unsharded) or receives the gather;
//   - a 16-bit buffer (fp16 / bf16 runs) receives the fp32 master rounded to its dtype in
//     AdamW's own pass; sharded, into this rank's shard of the padded buffer, which an
//     in-place all-gather then fills from every rank (2 bytes a parameter on the wire).
//
//   ShardedOptimizer opt(layout, config.adamw(), model.params().flat(), {.dp = dp, .zero = true},
//                        &initial_fp32_values);
//   Tensor g = opt.reduce_grads(model.grads().flat());   // collective when sharded
//   opt.step(g, lr, clip / loss_scale);
//   checkpoint::OptimizerTensors mine = opt.own_state();              // for a checkpoint (no
//   collective)
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "checkpoint/optimizer_tensors.h"
#include "core/tensor.h"
#include "modeldef/param_layout.h"
#include "modeldef/param_range.h"
#include "optim/adamw.h"
#include "parallel/communicator.h"
#include "parallel/data_parallel.h"

namespace glm::optim {

struct ShardingOptions {
  parallel::Communicator* dp = nullptr;  // the DP group (null: one rank)
  bool zero = false;                     // ZeRO-1: shard over dp when it has > 1 rank
};

class ShardedOptimizer {
 public:
  // params: the model's flat parameter buffer [layout.total()] (storage shared), f32, f16 or
  // bf16; sharded, preferably its padded storage [plan.padded] (modeldef::FlatParams::padded),
  // which fp32 gathers fill in place. The fp32 master weights are this rank's range of `initial`
  // ([layout.total()], f32, e.g. the fp32 initialisation a 16-bit buffer holds rounded), or of
  // params when `initial` is null. An unsharded fp32 params buffer is the master itself (AdamW
  // updates it in place); otherwise the master is a separate fp32 copy.
  ShardedOptimizer(std::shared_ptr<const modeldef::ParamLayout> layout, const AdamWConfig& config,
                   Tensor params, const ShardingOptions& options, const Tensor* initial = nullptr);

  bool sharded() const { return plan_.has_value(); }
  // The elements of the flat buffer this rank updates: all of them, or its ZeRO-1 shard.
  modeldef::ElementRange range() const { return range_; }

  // grads -> the gradients of range(): unsharded, `grads` [total] itself; sharded, the
  // model's padded gradient storage [plan.padded] (modeldef::FlatParams::padded, zero beyond
  // total) reduce-scattered over the DP group in place (a collective: every DP rank calls it).
  //
  // No full fp32 copy of the flat buffer is held: the exchange buffers are this rank's fp32
  // shard and, only where a 16-bit parameter buffer is not padded or the whole state is
  // gathered, one chunk of parallel::kGatherChunk elements per DP rank.
  Tensor reduce_grads(const Tensor& grads);
  // One AdamW update of range() with its gradients (from reduce_grads), then
  // write_params(). inv_scale: 1/loss_scale times the clip coefficient.
  void step(const Tensor& grads, double lr, float inv_scale);
  // The model's parameter buffer from the master weights: all-gathered from every rank's
  // shard when sharded (a collective), rounded into a 16-bit buffer.
  void write_params();
  // Whether the master is a separate fp32 copy (16-bit parameters).
  bool separate_master() const { return separate_; }

  // Whole tensors over the layout: views of this optimizer's own buffers when unsharded,
  // gathered from every rank's shard when sharded (a collective: all DP ranks call it).
  checkpoint::OptimizerTensors state();
  // This rank's range() of the state in host memory (views of its buffers on the CPU), as
  // its checkpoint file holds it. No collective.
  checkpoint::OptimizerTensors own_state();
  // Restores master weights and moments: `read` fills host tensors over range() (a
  // checkpoint loader reading only what this rank holds). The step count is restored
  // separately (set_step_count).
  void load_state(const std::function<void(const checkpoint::OptimizerTensors&)>& read);

  const AdamW& adamw() const { return *adamw_; }
  std::int64_t step_count() const { return adamw_->step_count(); }
  void set_step_count(std::int64_t t) { adamw_->set_step_count(t); }

 private:
  // shard [range.size()] of every DP rank -> full [total], f32 or rounded to full's 16-bit
  // dtype (sharded only; a collective).
  void gather(const Tensor& shard, Tensor& full);

  std::shared_ptr<const modeldef::ParamLayout> layout_;
  Tensor params_;  // the model's flat buffer
  ShardingOptions options_;
  bool separate_ = false;
  std::optional<parallel::ShardPlan> plan_;  // set when sharded
  modeldef::ElementRange range_;
  Tensor params_padded_;  // [plan.padded]: params_ with its zero tail, when given so
  Tensor shard_;          // [plan.shard]: this rank's shard, padded (sharded only)
  Tensor gather_buf_;     // [dp * chunk]: the chunked all-gather (16-bit or unpadded targets)
  Tensor master_;  // [range.size()]
  std::unique_ptr<AdamW> adamw_;
};

}  // namespace glm::optim
