// The optimizer's and the batch schedule's hyper-parameters and the EGS schedule: the
// "optim", "batch" and "egs_schedule" objects of a run config (docs/design.md sections 3 and 5b, GLM-130B's values as defaults where
// the design gives them). Each is read strictly (unknown keys and bad values are InputErrors
// naming "section.key") and validated once, with every problem reported together.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>


namespace glm::config {

struct OptimConfig {
  // Learning-rate schedule (optim/lr_schedule.h), all counted in consumed samples.
  double lr = 1e-4;                       // peak, reached at the end of warm-up
  double lr_min = 1e-5;                   // floor of the decay
  double lr_init = 1e-7;                  // start of the linear warm-up
  std::int64_t lr_warmup_samples = 0;     // 0 = no warm-up
  std::int64_t lr_decay_samples = 0;      // counted from sample 0, warm-up included; 0 = no decay
  std::string lr_decay_style = "cosine";  // cosine | linear | constant
  // AdamW (optim/adamw.h).
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  bool decay_embedding = false;
  double clip_grad = 1.0;  // max global gradient L2 norm; 0 = no clipping
  // Dynamic loss scaling, fp16 only (optim/loss_scaler.h).
  double initial_loss_scale = 65536.0;    // 2^16
  std::int64_t loss_scale_window = 2000;  // clean steps before the scale doubles
  int hysteresis = 2;                     // overflows before the scale halves
  double min_loss_scale = 1.0;

  static OptimConfig from_json(const nlohmann::json& j, const std::string& source,
                               const std::string& section = "optim");
  nlohmann::json to_json() const;
};

// Global batch size and its ramp-up (Megatron's --rampup-batch-size start increment samples).
struct BatchConfig {
  std::int64_t global_batch_size = 8;  // samples per optimizer step once ramped up
  std::int64_t rampup_start = 0;       // first global batch size when ramping up
  std::int64_t rampup_increment = 0;   // added at each ramp-up stage
  std::int64_t rampup_samples = 0;     // samples over which to ramp up; 0 = no ramp-up

  bool rampup() const { return rampup_samples > 0; }

  static BatchConfig from_json(const nlohmann::json& j, const std::string& source,
                               const std::string& section = "batch");
  nlohmann::json to_json() const;
};

// The EGS alpha schedule (optim/lr_schedule.h egs_alpha).
struct EgsSchedule {
  double alpha = 0.1;       // the value after the ramp (and the constant value)
  double alpha_init = 0.1;  // the value up to begin_step
  std::int64_t begin_step = 0;
  std::int64_t end_step = 0;  // <= begin_step: alpha_init before begin_step, alpha from it
                              // on (defaults 0, 0 and equal alphas: constant)

  static EgsSchedule constant(double alpha);
  static EgsSchedule from_json(const nlohmann::json& j, const std::string& source,
                               const std::string& section = "egs_schedule");
  nlohmann::json to_json() const;
};

}  // namespace glm::config
