// The training loop of one rank (docs/design.md section 5b) in a DP x TP x PP layout (section 4):
// global batch = micro-batch x micro-batches x DP; each rank holds one pipeline stage's
// layers, cut over its TP group, and runs the micro-batches through the 1F1B schedule.
//
// One optimizer step: collate every micro-batch of the global batch (the loss denominator
// is the global count of target tokens), forward+backward each with the current loss
// scale, detect inf/NaN gradients (skip + back off), unscale, clip by the global norm,
// consult the spike guard, and run AdamW on the fp32 master weights; in fp16 mode the
// model's parameters are then refreshed from the master weights, rounded to fp16.
//
//   Trainer t(run_config, {.log_dir = "logs/run1"});
//   t.load("ckpt");                  // optional: resume from ckpt/latest (checkpoint/checkpoint.h)
//   EvalResult before = t.evaluate();
//   t.run();                         // train_iters steps with logging and evaluation, saving
//                                    // to train.save_dir every save_interval steps, at the
//                                    // end, and after the step in which SIGTERM/SIGUSR1 came
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "checkpoint/checkpoint.h"
#include "config/run_config.h"
#include "train/signals.h"
#include "data/tokenizer.h"
#include "model/glm_model.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "optim/sharded_optimizer.h"
#include "optim/spike_guard.h"
#include "parallel/communicator.h"
#include "train/background_save.h"
#include "train/comm_log.h"
#include "train/metrics.h"
#include "train/training_data.h"

namespace glm::train {

// The model options a run config asks for: precision, recompute, seed and the device kind
// (the trainer then picks the GPU, the shard and the TP group of each rank).
model::ModelOptions model_options(const config::RunConfig& rc);

struct TrainerOptions {
  std::string log_dir = "logs/run";
  // The process groups of a parallel run (null: one process); the layout's sizes are the
  // groups' sizes. DP rank r of D trains on samples [r*B/D, (r+1)*B/D) of each global batch
  // of B; gradients are all-reduced layer by layer over the DP group, overlapping the last
  // backward where the backend allows (train/grad_reduce.h), and the tied embedding's over
  // the embedding group, so the DP ranks of one TP x PP position hold the same weights and
  // optimizer state. Checkpoints: DP rank 0 of each position writes its pieces
  // (they load into any layout). Only world rank 0 writes metrics.jsonl. ZeRO-1 is the
  // run config's parallel.zero (optim/sharded_optimizer.h): each rank keeps and updates one
  // shard of the master weights and Adam moments, with the same results.
  parallel::ProcessGroups* groups = nullptr;
  // Every rank appends one JSON line per training step to <log_dir>/comm_rank_<RRRRR>.jsonl
  // (train/comm_log.h).
  bool comm_log = false;
  // On a step skipped for inf/nan gradients, every rank names the first forward activation,
  // activation gradient or parameter gradient that became non-finite (GLMModel's check;
  // glm-train --debug-nonfinite). Costs a pass over each tensor.
  bool debug_nonfinite = false;
};

struct TrainState {
  std::int64_t step = 0;              // optimizer steps taken (skipped ones included)
  std::int64_t consumed_samples = 0;  // global samples consumed
  std::int64_t skipped_steps = 0;     // overflow or spike-guard skips
};

struct StepResult {
  double loss = 0;       // mean target-token loss of the global batch
  double grad_norm = 0;  // unscaled, before clipping (NaN when the step overflowed)
  double lr = 0;
  bool skipped = false;
  std::string skip_reason;
  std::int64_t global_batch = 0;
  std::int64_t tokens = 0;  // global batch x sequence length
  double model_flops = 0;   // of the whole job's step: 3 x forward, the head on target rows
  double seconds = 0;
  std::int64_t head_rows = 0;  // target rows through this rank's head (last stage)
  double compute_seconds = 0;  // this rank's forward and backward passes
  double pipeline_comm_seconds = 0;  // waiting on point-to-point pipeline transfers
  // Training health, on the steps that are logged (else empty): the unscaled gradient norm
  // before clipping of each parameter group of optim/training_health.h.
  std::vector<double> group_grad_norm;
  // and the update ratio |dW| / |W| of each group (NaN when the step was skipped or the
  // optimizer's state is on a GPU)
  std::vector<double> group_update_ratio;
  // and the largest attention logit of the first and of the last layer (model/attention_logits.h)
  std::array<double, 2> max_attention_logit{};
};

struct EvalResult {
  double loss = 0;  // mean loss per held-out target token (of every dataset of a blend)
  std::int64_t tokens = 0;
  std::int64_t bytes = 0;  // UTF-8 bytes of text those tokens stand for (data/text_bytes.h)
  double perplexity() const;
  double bits_per_byte() const;  // tokenizer-independent
  // Each dataset's own held-out figures (train.eval_iters micro-batches of each), in the
  // order of train.data (one entry without a blend).
  struct Dataset {
    std::string name;
    double loss = 0;
    std::int64_t tokens = 0, bytes = 0;
  };
  std::vector<Dataset> datasets;
};

class Trainer {
 public:
  Trainer(const config::RunConfig& config, const TrainerOptions& options);
  ~Trainer();

  StepResult train_step();
  EvalResult evaluate();
  void log_eval(const EvalResult& e);  // metrics.jsonl, TensorBoard, console (rank 0)
  // train_iters steps with logging every log_interval and evaluation every eval_interval,
  // evaluating before the first and after the last step. Returns {before, after}.
  // Checkpoints go to train.save_dir (if set) every save_interval steps and after the last
  // step. SIGTERM or SIGUSR1 ends the run after the current step, with a checkpoint and
  // without the final evaluation (stop_signals() then says which signals).
  std::pair<EvalResult, EvalResult> run();

  // Writes a checkpoint of the current state under save_root (checkpoint/checkpoint.h), logs
  // its time and size (console and metrics.jsonl) and prunes to train.keep_last.
  checkpoint::SaveResult save(const std::string& save_root);
  // With train.save_mode "async", save() returns once the state is copied and a writer
  // thread writes; this waits for it and publishes the checkpoint (collective; run() does
  // it at the step ends, before a new save, a stop and at the end). A Trainer destroyed with
  // a save in flight leaves it unpublished (iter_X.tmp/, removed by the next save).
  void finish_background_save();
  // Resumes from a save root's `latest` (or iteration `iter`), or a checkpoint directory:
  // verifies it, checks the config against the checkpoint's and applies config.resume's
  // overrides (each logged), then restores weights, Adam moments and step count, loss
  // scaler, spike guard and counters. Throws InputError naming the file on any problem; a
  // trainer whose load failed part-way must not be used.
  void load(const std::string& dir, std::optional<std::int64_t> iter = std::nullopt);
  // The current state as a checkpoint's meta (tensors and files left empty).
  void restore_data_blend(const checkpoint::CheckpointMeta& meta, const config::RunConfig& rc,
                          const std::string& meta_path, std::vector<std::string>& notes);
  checkpoint::CheckpointMeta checkpoint_meta() const;
  // The optimizer's state as whole tensors (a collective under ZeRO-1).
  checkpoint::OptimizerTensors optimizer_tensors() const;
  StopSignals stop_signals() const { return stop_signals_; }

  const TrainState& state() const { return state_; }
  model::GLMModel& model() { return *model_; }
  const optim::LossScaler& loss_scaler() const { return scaler_; }
  const optim::SpikeGuard& spike_guard() const { return spike_guard_; }
  const optim::AdamW& optimizer() const { return optimizer_->adamw(); }
  const config::RunConfig& config() const { return config_; }

 private:
  void skip_sample_ranges();    // resume.skip_samples, before a step draws its batch
  parallel::Communicator* group(std::unique_ptr<parallel::Communicator> parallel::ProcessGroups::*g) const {
    return options_.groups ? (options_.groups->*g).get() : nullptr;
  }
  parallel::Communicator* dp() const { return group(&parallel::ProcessGroups::dp); }
  parallel::Communicator* tp() const { return group(&parallel::ProcessGroups::tp); }
  parallel::Communicator* pp() const { return group(&parallel::ProcessGroups::pp); }
  parallel::Communicator* world() const { return group(&parallel::ProcessGroups::world); }
  int dp_size() const { return dp() ? dp()->size() : 1; }
  int dp_rank() const { return dp() ? dp()->rank() : 0; }
  int tp_size() const { return tp() ? tp()->size() : 1; }
  int tp_rank() const { return tp() ? tp()->rank() : 0; }
  int pp_size() const { return pp() ? pp()->size() : 1; }
  int pp_rank() const { return pp() ? pp()->rank() : 0; }
  int world_rank() const { return world() ? world()->rank() : 0; }
  int world_size() const { return world() ? world()->size() : 1; }
  // The model shard of position (tp rank, pp stage) of this run's layout.
  modeldef::ModelShard shard_of(int tp_rank, int stage) const;
  config::ParallelConfig layout() const;  // this run's actual layout
  // Sums over the DP group / over every rank (identity without one).
  void dp_sum(std::span<double> values) const;
  void world_sum(std::span<double> values) const;
  void stall_if_testing(std::int64_t step) const;  // GLM_TEST_STALL_AT_STEP (tests/faults)
  void crash_if_testing(std::int64_t step) const;  // GLM_TEST_CRASH_AT_STEP (tests/faults)
  // save(), then train.save_failure: a failed save stops training (rethrown) or is logged.
  void save_as_configured(const std::string& save_root);
  // Called inside a catch of a SaveError: rethrows it (train.save_failure "stop") or logs it.
  void handle_save_failure(const checkpoint::SaveError& e);
  // The background save (train.save_mode "async"), if one is in flight: published once every
  // rank's writer has finished (poll_background_save, at each step end: one small all-reduce
  // while one is in flight), or waited for (finish_background_save: before a new save, a
  // stop, a rollback and the end of training). Both apply train.save_failure.
  void poll_background_save();
  // Logs and records a completed save: its total time and the time the step was blocked.
  void report_save(const checkpoint::SaveResult& r, std::int64_t step, double blocked_seconds);
  void stop_with_checkpoint();  // after a stop signal: save (if save_dir) and log
  // spike_guard.recovery (optim/spike_recovery.h): roll back to the newest checkpoint before
  // the spike, skip its samples, apply the lr scale and EGS alpha, and go on; past the
  // budget, save and throw. Without a checkpoint to roll back to, the flagged level is
  // accepted instead (SpikeGuard::accept_new_level).
  // Returns whether it rolled back.
  bool recover_from_spike(const std::string& reason);
  // GLM_TEST_POISON_SAMPLES=BEGIN:END (tests): every target of those samples becomes the
  // vocabulary's last id, a data-borne loss spike.
  void poison_if_testing(modeldef::Batch& batch, std::int64_t first_sample) const;

  config::RunConfig config_;
  TrainerOptions options_;
  data::Tokenizer tokenizer_;
  std::vector<std::int32_t> text_bytes_per_id_;  // of tokenizer_, for bits per byte
  std::unique_ptr<model::GLMModel> model_;
  // The master weights, Adam moments and ZeRO-1 shards: the optimizer's own.
  std::unique_ptr<optim::ShardedOptimizer> optimizer_;
  optim::LossScaler scaler_;
  optim::SpikeGuard spike_guard_;
  optim::DivergenceWatch divergence_;
  std::optional<std::string> pending_recovery_;  // the signature a step completed
  TrainingData data_;
  std::unique_ptr<MetricsLog> metrics_;
  TrainState state_;
  double peak_flops_ = 0;  // per process, for MFU
  std::unique_ptr<CommLog> comm_log_;  // TrainerOptions::comm_log
  std::int64_t checkpoint_step_ = -1;  // step of the last checkpoint saved or loaded
  std::unique_ptr<BackgroundSave> background_save_;  // train.save_mode "async", in flight
  checkpoint::OptimizerTensors save_snapshot_;       // its host copy, reused by the next
  std::int64_t resumed_from_ = -1;     // step of the checkpoint this run loaded (-1: none)
  StopSignals stop_signals_ = 0;  // the union over ranks of the stop signals received
};

}  // namespace glm::train
