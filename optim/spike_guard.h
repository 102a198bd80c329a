// Loss-spike guard (docs/design.md section 5b): flags a step whose loss or gradient norm is
// non-finite or an upward outlier against the recent accepted steps, so the trainer can skip
// it, and asks for a rollback after K flagged steps in a row.
//
// Window: the last `window` accepted (loss, grad_norm) pairs (default 100). A step is
// flagged when loss or grad_norm is non-finite, or, once the window holds at least
// `min_history` entries (default 20), when for either quantity x
//   z = (x - mean) / max(std, kMinRelStd*|mean|, kMinStd) > z_threshold   (default 5)
// with mean and population std over the window. One-sided: only increases count (the loss
// trends downward; a drop is never a spike). 5 sigma: about 3e-7 false positives per step
// for Gaussian noise, while GLM-130B's spikes are many sigma. The std floor keeps a flat
// window (e.g. constant test losses) from flagging rounding noise.
// Flagged steps do not enter the window; accepted ones do and reset the consecutive count.
// should_rollback() is true after max_consecutive (K, default 3) flagged steps in a row.
// Without a rollback, accept_new_level() then takes the loss and gradient norm of those K
// steps as the new window (a level shift, not a spike), so the guard never skips forever:
// it judges outliers again once min_history steps at the new level have been accepted.
// Off by default: disabled, check() never flags and records nothing.
//
// Order in the trainer: skip = scaler.update(found_inf); if (!skip) skip = guard.check(...).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "config/spike_guard_config.h"
#include "optim/spike_recovery.h"

namespace glm::optim {

inline constexpr double kMinRelStd = 1e-3;  // std floor relative to |mean|
inline constexpr double kMinStd = 1e-12;    // absolute std floor

// Why a step was flagged (for the log line).
enum class SpikeReason {
  none,
  nonfinite_loss,
  nonfinite_grad_norm,
  loss_outlier,
  grad_norm_outlier
};
const char* to_string(SpikeReason reason);

class SpikeGuard {
 public:
  explicit SpikeGuard(config::SpikeGuardConfig config = {});

  // Judges one step; returns true when it is flagged (skip it). Accepted steps join the window.
  bool check(double loss, double grad_norm);
  SpikeReason last_reason() const { return last_reason_; }
  double last_z() const { return last_z_; }  // the larger z-score of the last check (0 if none)

  bool should_rollback() const;
  // After should_rollback(), when no rollback happens: the current run of flagged steps
  // becomes the window (the level shifted) and the run ends. False, changing nothing, when
  // the run holds no finite step to start a window from (non-finite losses or norms).
  bool accept_new_level();
  int consecutive_flagged() const { return state_.consecutive_flagged; }
  std::int64_t total_flagged() const { return state_.total_flagged; }
  void clear_consecutive() { state_.consecutive_flagged = 0; }  // after a rollback
  // The recoveries of the run (kept across a rollback, which loads an older state).
  void set_recoveries(std::vector<checkpoint::RecoveryRecord> records) {
    state_.recoveries = std::move(records);
  }

  const config::SpikeGuardConfig& config() const { return config_; }
  const checkpoint::SpikeGuardState& state() const { return state_; }
  void load_state(const checkpoint::SpikeGuardState& state);

 private:
  config::SpikeGuardConfig config_;
  checkpoint::SpikeGuardState state_;
  SpikeReason last_reason_ = SpikeReason::none;
  double last_z_ = 0;
};

}  // namespace glm::optim
