// Reading and validating the "optim", "batch" and "egs_schedule" config objects (config/optim_config.h).
#include "config/optim_config.h"

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/json_fields.h"

namespace glm::config {

namespace {
constexpr std::int64_t kMaxSamples = std::numeric_limits<std::int64_t>::max() / 4;
}

OptimConfig OptimConfig::from_json(const nlohmann::json& j, const std::string& source,
                                   const std::string& section) {
  OptimConfig c;
  JsonFields f(j, section, source);
  f.get("lr", c.lr, 0.0, 10.0);
  f.get("lr_min", c.lr_min, 0.0, 10.0);
  f.get("lr_init", c.lr_init, 0.0, 10.0);
  f.get("lr_warmup_samples", c.lr_warmup_samples, 0, kMaxSamples);
  f.get("lr_decay_samples", c.lr_decay_samples, 0, kMaxSamples);
  f.get("lr_decay_style", c.lr_decay_style, {"cosine", "linear", "constant"});
  f.get("beta1", c.beta1, 0.0, 0.999999);
  f.get("beta2", c.beta2, 0.0, 0.999999);
  f.get("eps", c.eps, 1e-30, 1.0);
  f.get("weight_decay", c.weight_decay, 0.0, 10.0);
  f.get("decay_embedding", c.decay_embedding);
  f.get("clip_grad", c.clip_grad, 0.0, 1e9);
  f.get("initial_loss_scale", c.initial_loss_scale, 1.0, 1e30);
  f.get("loss_scale_window", c.loss_scale_window, 1, kMaxSamples);
  f.get("hysteresis", c.hysteresis, 1, 1 << 20);
  f.get("min_loss_scale", c.min_loss_scale, 1e-30, 1e30);
  if (c.lr_min > c.lr) f.error("lr_min", fmt::format("{} is larger than lr {}", c.lr_min, c.lr));
  if (c.lr_init > c.lr) f.error("lr_init", fmt::format("{} is larger than lr {}", c.lr_init, c.lr));
  if (c.lr_decay_samples > 0 && c.lr_decay_samples < c.lr_warmup_samples)
    f.error("lr_decay_samples",
            fmt::format("{} is smaller than lr_warmup_samples {} (decay counts from sample 0, "
                        "warm-up included)",
                        c.lr_decay_samples, c.lr_warmup_samples));
  if (c.min_loss_scale > c.initial_loss_scale)
    f.error("min_loss_scale", fmt::format("{} is larger than initial_loss_scale {}",
                                          c.min_loss_scale, c.initial_loss_scale));
  throw_if_problems(f.finish(), source);
  return c;
}

nlohmann::json OptimConfig::to_json() const {
  return {{"lr", lr},
          {"lr_min", lr_min},
          {"lr_init", lr_init},
          {"lr_warmup_samples", lr_warmup_samples},
          {"lr_decay_samples", lr_decay_samples},
          {"lr_decay_style", lr_decay_style},
          {"beta1", beta1},
          {"beta2", beta2},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"decay_embedding", decay_embedding},
          {"clip_grad", clip_grad},
          {"initial_loss_scale", initial_loss_scale},
          {"loss_scale_window", loss_scale_window},
          {"hysteresis", hysteresis},
          {"min_loss_scale", min_loss_scale}};
}

BatchConfig BatchConfig::from_json(const nlohmann::json& j, const std::string& source,
                                   const std::string& section) {
  BatchConfig c;
  JsonFields f(j, section, source);
  f.get("global_batch_size", c.global_batch_size, 1, 1 << 30);
  f.get("rampup_start", c.rampup_start, 0, 1 << 30);
  f.get("rampup_increment", c.rampup_increment, 0, 1 << 30);
  f.get("rampup_samples", c.rampup_samples, 0, kMaxSamples);
  if (c.rampup()) {
    if (c.rampup_start < 1 || c.rampup_start > c.global_batch_size)
      f.error("rampup_start", fmt::format("{} must be in [1, global_batch_size = {}]",
                                          c.rampup_start, c.global_batch_size));
    if (c.rampup_increment < 1)
      f.error("rampup_increment",
              fmt::format("{} must be >= 1 when rampup_samples > 0", c.rampup_increment));
    else if (c.rampup_start >= 1 && (c.global_batch_size - c.rampup_start) % c.rampup_increment)
      f.error("rampup_increment",
              fmt::format("{} does not divide global_batch_size - rampup_start = {}",
                          c.rampup_increment, c.global_batch_size - c.rampup_start));
  }
  throw_if_problems(f.finish(), source);
  return c;
}

nlohmann::json BatchConfig::to_json() const {
  return {{"global_batch_size", global_batch_size},
          {"rampup_start", rampup_start},
          {"rampup_increment", rampup_increment},
          {"rampup_samples", rampup_samples}};
}

EgsSchedule EgsSchedule::constant(double alpha) {
  EgsSchedule s;
  s.alpha = s.alpha_init = alpha;
  return s;
}

EgsSchedule EgsSchedule::from_json(const nlohmann::json& j, const std::string& source,
                                   const std::string& section) {
  EgsSchedule s;
  JsonFields f(j, section, source);
  f.get("alpha", s.alpha, 0.0, 1.0);
  s.alpha_init = s.alpha;  // constant unless alpha_init is given
  f.get("alpha_init", s.alpha_init, 0.0, 1.0);
  f.get("begin_step", s.begin_step, 0, INT64_MAX / 2);
  f.get("end_step", s.end_step, 0, INT64_MAX / 2);
  if (s.end_step > 0 && s.end_step < s.begin_step)
    f.error("end_step", fmt::format("{} is before begin_step {}", s.end_step, s.begin_step));
  throw_if_problems(f.finish(), source);
  return s;
}

nlohmann::json EgsSchedule::to_json() const {  return {{"alpha", alpha},
          {"alpha_init", alpha_init},
          {"begin_step", begin_step},
          {"end_step", end_step}};
}

}  // namespace glm::config
