#include "optim/spike_recovery.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace glm::optim {

bool recovery_budget_left(const config::SpikeRecoveryConfig& c,
                          const std::vector<checkpoint::RecoveryRecord>& records,
                          std::int64_t step) {
  int recent = 0;
  for (const auto& r : records)
    if (r.step > step - c.budget_steps) ++recent;
  return recent < c.max_recoveries;
}

std::optional<std::string> DivergenceWatch::observe(const Step& s) {
  if (!s.skipped) {
    reset();
    return std::nullopt;
  }
  if (spike_step_ < 0) spike_step_ = s.step, spike_samples_ = s.samples_before;
  nonfinite_ = std::isfinite(s.loss) ? 0 : nonfinite_ + 1;
  if (!config_.enabled) return std::nullopt;
  if (s.guard_wants_rollback)
    return fmt::format("spike guard: flagged steps in a row since step {}", spike_step_);
  if (nonfinite_ >= config_.nonfinite_steps)
    return fmt::format("non-finite loss on {} steps in a row", nonfinite_);
  if (s.overflow_at_floor) return std::string("overflow with the loss scale at its floor");
  return std::nullopt;
}

}  // namespace glm::optim
