// Automatic spike recovery (spike_guard.recovery; docs/design.md section 5b): what the
// GLM-130B operators did by hand in the middle of a spike, done by the trainer. On a
// divergence signature it rolls back in-process to the newest checkpoint saved before the
// spike began, skips the samples trained on since the spike began (resume.skip_samples),
// optionally scales the learning rate and sets the EGS alpha, and continues.
//
// Signatures (DivergenceWatch, fed once per step):
//   - the spike guard's K flagged steps in a row (SpikeGuard::should_rollback);
//   - a non-finite loss on `nonfinite_steps` steps in a row (the forward itself overflows:
//     lowering the loss scale cannot help);
//   - an overflow with the dynamic loss scale at its floor (optim.min_loss_scale).
// The spike began at the first step of the current run of skipped steps.
// Budget: at most max_recoveries recoveries within any budget_steps steps; past it the run
// stops with a checkpoint and an error naming the budget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/training_state.h"
#include "config/spike_guard_config.h"

namespace glm::optim {

// True when `records` leave room for another recovery at `step`.
bool recovery_budget_left(const config::SpikeRecoveryConfig& c,
                          const std::vector<checkpoint::RecoveryRecord>& records,
                          std::int64_t step);

class DivergenceWatch {
 public:
  explicit DivergenceWatch(config::SpikeRecoveryConfig config = {}) : config_(config) {}

  struct Step {
    std::int64_t step = 0;              // 1-based number of the step just taken
    std::int64_t samples_before = 0;    // consumed samples when it began
    double loss = 0;
    bool skipped = false;
    bool overflow_at_floor = false;     // overflowed with the loss scale at its floor
    bool guard_wants_rollback = false;  // SpikeGuard::should_rollback()
  };
  // The signature this step completes, if any.
  std::optional<std::string> observe(const Step& s);
  std::int64_t spike_step() const { return spike_step_; }
  std::int64_t spike_samples() const { return spike_samples_; }
  void reset() { spike_step_ = spike_samples_ = -1, nonfinite_ = 0; }

 private:
  config::SpikeRecoveryConfig config_;
  std::int64_t spike_step_ = -1, spike_samples_ = -1;  // the current run of skipped steps
  int nonfinite_ = 0;
};

}  // namespace glm::optim
