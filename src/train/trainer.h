// The training loop of one process (DESIGN.md section 5b), written against the parallel
// design: global batch = micro-batch x micro-batches x DP (DP = 1 until issue 5).
//
// One optimizer step: collate every micro-batch of the global batch (the loss denominator
// is the global count of target tokens), forward+backward each with the current loss
// scale, detect inf/NaN gradients (skip + back off), unscale, clip by the global norm,
// consult the spike guard, and run AdamW on the fp32 master weights; in fp16 mode the
// model's parameters are then refreshed from the master weights, rounded to fp16.
//
//   Trainer t(run_config, {.log_dir = "logs/run1"});
//   EvalResult before = t.evaluate();
//   t.run();                         // train_iters steps with logging and evaluation
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "data/tokenizer.h"
#include "model/glm_model.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "optim/spike_guard.h"
#include "train/data_pipeline.h"
#include "train/metrics.h"
#include "train/run_config.h"

namespace glm::train {

struct TrainerOptions {
  std::string log_dir = "logs/run";
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
  double seconds = 0;
};

struct EvalResult {
  double loss = 0;  // mean loss per held-out target token
  std::int64_t tokens = 0;
  double perplexity() const;
};

class Trainer {
 public:
  Trainer(const RunConfig& config, const TrainerOptions& options);
  ~Trainer();

  StepResult train_step();
  EvalResult evaluate();
  // train_iters steps with logging every log_interval and evaluation every eval_interval,
  // evaluating before the first and after the last step. Returns {before, after}.
  std::pair<EvalResult, EvalResult> run();

  const TrainState& state() const { return state_; }
  model::GLMModel& model() { return *model_; }
  const optim::LossScaler& loss_scaler() const { return scaler_; }
  const RunConfig& config() const { return config_; }

 private:
  RunConfig config_;
  TrainerOptions options_;
  data::Tokenizer tokenizer_;
  std::unique_ptr<model::GLMModel> model_;
  Tensor master_;  // fp32 master weights: the model's own buffer in fp32, a copy in fp16
  std::unique_ptr<optim::AdamW> adamw_;
  optim::LossScaler scaler_;
  optim::SpikeGuard spike_guard_;
  std::unique_ptr<DataPipeline> train_data_, valid_data_;
  std::unique_ptr<MetricsLog> metrics_;
  TrainState state_;
  double peak_flops_ = 0;  // per process, for MFU
};

}  // namespace glm::train
