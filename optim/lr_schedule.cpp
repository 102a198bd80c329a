// Learning-rate, batch-size and EGS-alpha schedules (optim/lr_schedule.h).
#include "optim/lr_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace glm::optim {

double learning_rate(const config::OptimConfig& c, std::int64_t n) {
  GLM_CHECK(n >= 0, "learning_rate: consumed samples {} is negative", n);
  const std::int64_t W = c.lr_warmup_samples, D = c.lr_decay_samples;
  // Linear warm-up: lr_init at n = 0, lr at n = W.
  if (W > 0 && n <= W)
    return c.lr_init + (c.lr - c.lr_init) * static_cast<double>(n) / static_cast<double>(W);
  if (c.lr_decay_style == "constant" || D == 0) return c.lr;
  if (n >= D) return c.lr_min;  // also covers D == W (no decay phase)
  // Decay over (W, D]: r goes 0 -> 1.
  const double r = static_cast<double>(n - W) / static_cast<double>(D - W);
  const double coeff =
      c.lr_decay_style == "linear" ? 1.0 - r : 0.5 * (1.0 + std::cos(std::numbers::pi * r));
  return c.lr_min + (c.lr - c.lr_min) * coeff;
}

std::int64_t global_batch_size(const config::BatchConfig& c, std::int64_t n) {
  GLM_CHECK(n >= 0, "global_batch_size: consumed samples {} is negative", n);
  if (!c.rampup() || n > c.rampup_samples || c.rampup_increment <= 0) return c.global_batch_size;
  const std::int64_t K = (c.global_batch_size - c.rampup_start) / c.rampup_increment;
  // floor(n / (rampup_samples / K)) = floor(n*K / rampup_samples); n <= rampup_samples here,
  // so n*K stays far from overflow for any realistic run (checked anyway).
  GLM_CHECK(K == 0 || n <= INT64_MAX / K, "global_batch_size: ramp-up arithmetic overflows");
  const std::int64_t stage = K == 0 ? 0 : n * K / c.rampup_samples;
  return std::min(c.global_batch_size, c.rampup_start + stage * c.rampup_increment);
}


double egs_alpha(const config::EgsSchedule& s, std::int64_t step) {
  if (s.end_step <= s.begin_step) return step < s.begin_step ? s.alpha_init : s.alpha;
  if (step <= s.begin_step) return s.alpha_init;
  if (step >= s.end_step) return s.alpha;
  const double r =
      static_cast<double>(step - s.begin_step) / static_cast<double>(s.end_step - s.begin_step);
  return s.alpha_init + (s.alpha - s.alpha_init) * r;
}

}  // namespace glm::optim
