// A run's configuration file (configs/*.json): the sections
//   model        ModelConfig (src/model/model_config.h)
//   train        TrainConfig below: micro-batch, precision, iterations, intervals, data
//   optim        OptimConfig (optim/optim_config.h): AdamW, lr schedule, clipping, loss scale
//   batch        BatchConfig: global batch size and its ramp-up
//   objective    CollatorConfig (data/glm_collator.h): the GLM blank-infilling ratios
//   spike_guard  SpikeGuardConfig (optim/spike_guard.h)
//   egs_schedule EgsSchedule (optim/lr_schedule.h): embedding-gradient-shrink alpha over steps
//
// Each section is a small typed struct validated once; every problem in the file is
// reported together, each naming its key ("train.precision: 'fp8' is not one of ...").
// `--set section.key=value` overrides are applied to the JSON before validation, so they
// are checked exactly like the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/glm_collator.h"
#include "model/glm_model.h"
#include "model/model_config.h"
#include "optim/lr_schedule.h"
#include "optim/optim_config.h"
#include "optim/spike_guard.h"

namespace glm::train {

struct TrainConfig {
  int micro_batch_size = 8;
  std::string precision = "fp32";  // fp32 | fp16
  std::string recompute = "none";  // none | full
  std::int64_t seed = 1234;
  std::int64_t train_iters = 100;  // optimizer steps
  int log_interval = 10;
  int eval_interval = 50;          // 0 = only before and after training
  int eval_iters = 10;             // micro-batches of the held-out split per evaluation
  std::string data_dir;            // glm-preprocess output: tokenizer.model, train.h5, valid.h5

  model::Precision precision_mode() const;
  model::Recompute recompute_mode() const;
};

struct RunConfig {
  model::ModelConfig model;
  TrainConfig train;
  optim::OptimConfig optim;
  optim::BatchConfig batch;
  data::CollatorConfig objective;
  optim::SpikeGuardConfig spike_guard;
  optim::EgsSchedule egs_schedule;  // defaults to a constant model.embedding_grad_shrink
  std::string source;  // the file it came from

  model::ModelOptions model_options() const;
  nlohmann::json to_json() const;
};

// Parses a JSON document (source names it in messages) and validates it.
RunConfig parse_run_config(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides = {});
// Reads a file; a missing or unreadable file is an InputError naming it.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace glm::train
