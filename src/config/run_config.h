// A run's configuration file (configs/*.json): the sections
//   model        ModelConfig (src/modeldef/model_config.h)
//   train        TrainConfig below: micro-batch, precision, iterations, intervals, data
//   optim        OptimConfig (config/optim_config.h): AdamW, lr schedule, clipping, loss scale
//   batch        BatchConfig: global batch size and its ramp-up
//   objective    CollatorConfig (data/glm_collator.h): the GLM blank-infilling ratios
//   spike_guard  SpikeGuardConfig (optim/spike_guard.h)
//   egs_schedule EgsSchedule (optim/lr_schedule.h): embedding-gradient-shrink alpha over steps
//   resume       ResumeConfig below: overrides applied when resuming, skip ranges
//   parallel     ParallelConfig below: the DP x TP x PP layout (glm-train flags override it)
//
// Each section is a small typed struct validated once; every problem in the file is
// reported together, each naming its key ("train.precision: 'fp8' is not one of ...").
// `--set section.key=value` overrides are applied to the JSON before validation, so they
// are checked exactly like the file.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/optim_config.h"
#include "config/spike_guard_config.h"
#include "data/blend.h"
#include "data/glm_collator.h"
#include "modeldef/model_config.h"
#include "modeldef/precision.h"

namespace glm::config {

// The ranges of the train fields that glm-train also takes as options: one definition for
// the config check and the option check.
// train_iters is 1 ..; save_interval 0 (never) ..
inline constexpr std::int64_t kMaxTrainSteps = std::int64_t{1} << 40;
inline constexpr std::int64_t kMaxSeed = std::int64_t{1} << 62;

struct TrainConfig {
  int micro_batch_size = 8;
  // fp32 | fp16 | bf16 (modeldef/precision.h); a config or --precision may say auto, which
  // loading replaces by what config/auto_precision.h picks (bf16 where the CPU multiplies
  // bf16 natively, else fp32)
  std::string precision = "fp32";
  std::string recompute = "none";  // none | full
  // cpu | cuda (one GPU per rank: local rank modulo the visible GPUs; NCCL groups)
  std::string device = "cpu";
  std::int64_t seed = static_cast<std::int64_t>(modeldef::kDefaultSeed);
  std::int64_t train_iters = 100;  // optimizer steps
  int log_interval = 10;
  int eval_interval = 50;          // 0 = only before and after training
  int eval_iters = 10;             // micro-batches of the held-out split per evaluation
  std::string data_dir;            // glm-preprocess output: tokenizer.model, train.h5, valid.h5
  // A blend of several glm-preprocess outputs instead of data_dir (data/blend.h):
  // [{"path": DIR, "weight": W, "name": N (default: DIR's last component)}, ...]. The
  // datasets share one tokenizer; the first one's tokenizer.model is the run's. Weights may
  // change on resume: the new ones are reached linearly over data_warmup_samples samples.
  std::vector<data::BlendSource> data;
  std::int64_t data_warmup_samples = 0;
  // The datasets the run reads: `data`, or data_dir as one dataset of weight 1.
  std::vector<data::BlendSource> datasets() const;
  // Checkpoints (checkpoint/checkpoint.h): saved to save_dir every save_interval steps (0 = only
  // at the end and on SIGTERM/SIGUSR1), keeping the newest keep_last (0 = keep all).
  std::string save_dir;  // "" = no checkpoints
  std::int64_t save_interval = 0;
  int keep_last = 3;
  // A save that fails (disk full, I/O error): "stop" (the default) ends training with the
  // error, "continue" warns and tries again at the next save step.
  std::string save_failure = "stop";
  // "sync": the step waits for the whole save; "async": the step waits only while the state
  // is copied to host memory, a writer thread writes, fsyncs and hashes the rank's file, and
  // the ranks publish the checkpoint at the first step end after every writer has finished
  // (train/async_save.h).
  std::string save_mode = "sync";

  modeldef::Precision precision_mode() const;
};

// [begin, end) half-open range of optimizer steps or of global sample indices.
struct SkipRange {
  std::int64_t begin = 0, end = 0;
  bool contains(std::int64_t x) const { return begin <= x && x < end; }
  bool operator==(const SkipRange&) const = default;
};

// What may change when a run resumes from a checkpoint (docs/design.md section 5b), and the data
// to pass over. The value overrides apply only on resume (Trainer::load), each logged:
//   lr, lr_min   replace optim.lr / optim.lr_min (the schedule continues from the
//                consumed samples with the new values)
//   loss_scale   the loss scaler's current scale (fp16; growth continues from it)
//   egs_alpha    a constant embedding-gradient-shrink alpha (replaces egs_schedule)
// The skip ranges apply whenever training reaches them, resumed or not:
//   skip_iters [a, b)    optimizer steps a..b-1 consume their global batch without
//                        training (no forward, no update; counted as skipped steps)
//   skip_samples [a, b)  before a step draws its batch [c, c+B), if that batch overlaps
//                        [a, b) the sample position jumps to b: samples c..b-1 are consumed
//                        without training, the step trains on [b, b+B)
// Consumed-but-skipped samples count in consumed_samples, so the lr and batch schedules
// move on as if they had been trained on (as GLM-130B's operators skipped data).
struct ResumeConfig {
  std::optional<double> lr, lr_min, loss_scale, egs_alpha;
  std::vector<SkipRange> skip_iters, skip_samples;

  bool has_value_overrides() const { return lr || lr_min || loss_scale || egs_alpha; }
  nlohmann::json to_json() const;
  // The "resume" section (null: none); InputError naming the key otherwise.
  static ResumeConfig from_json(const nlohmann::json& j, const std::string& source);
};

// The parallel layout of a run (docs/design.md section 4). A run setting: a checkpoint written in
// one layout resumes in any other.
struct ParallelConfig {
  int dp = 0;  // 0: the world size / (tp x pp)
  int tp = 1, pp = 1;
  bool zero = false;  // ZeRO-1 over the DP group
  // Layers on the first and last pipeline stage (-1: split evenly), GLM-130B style
  // (parallel/pipeline_schedule.h: pipeline_layer_split).
  int pipeline_first_last_layers = -1;
  nlohmann::json to_json() const;
};

struct RunConfig {
  modeldef::ModelConfig model;
  TrainConfig train;
  config::OptimConfig optim;
  config::BatchConfig batch;
  data::CollatorConfig objective;
  config::SpikeGuardConfig spike_guard;
  config::EgsSchedule egs_schedule;  // defaults to a constant model.embedding_grad_shrink
  ResumeConfig resume;
  ParallelConfig parallel;
  std::string source;  // the file it came from

  nlohmann::json to_json() const;
};

// The last component of a dataset directory ("data/en/" -> "en"): a blend entry's default
// name.
std::string dataset_name(const std::string& dir);

// Parses a JSON document (source names it in messages) and validates it.
RunConfig parse_run_config(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides = {});
// Reads a file; a missing or unreadable file is an InputError naming it.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace glm::config
