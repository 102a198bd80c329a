// The spike guard's window statistics and checkpoint state (optim/spike_guard.h).
#include "optim/spike_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm::optim {

namespace {

// z-score of x against the window (one-sided, with the std floor of the header).
double z_score(const std::deque<double>& window, double x) {
  const double n = static_cast<double>(window.size());
  double mean = 0;
  for (double w : window) mean += w;
  mean /= n;
  double var = 0;
  for (double w : window) var += (w - mean) * (w - mean);
  const double std_dev = std::max({std::sqrt(var / n), kMinRelStd * std::abs(mean), kMinStd});
  return (x - mean) / std_dev;
}

}  // namespace

const char* to_string(SpikeReason reason) {
  switch (reason) {
    case SpikeReason::none:
      return "none";
    case SpikeReason::nonfinite_loss:
      return "non-finite loss";
    case SpikeReason::nonfinite_grad_norm:
      return "non-finite gradient norm";
    case SpikeReason::loss_outlier:
      return "loss outlier";
    case SpikeReason::grad_norm_outlier:
      return "gradient-norm outlier";
  }
  return "?";
}

SpikeGuard::SpikeGuard(config::SpikeGuardConfig config) : config_(config) {
  if (config_.window < 2 || config_.min_history < 2 || config_.min_history > config_.window ||
      config_.max_consecutive < 1 || !(config_.z_threshold > 0))
    throw InputError(fmt::format("spike guard: invalid settings {}", config_.to_json().dump()));
}

bool SpikeGuard::check(double loss, double grad_norm) {
  last_reason_ = SpikeReason::none;
  last_z_ = 0;
  if (!config_.enabled) return false;
  if (!std::isfinite(loss)) {
    last_reason_ = SpikeReason::nonfinite_loss;
  } else if (!std::isfinite(grad_norm)) {
    last_reason_ = SpikeReason::nonfinite_grad_norm;
  } else if (static_cast<int>(state_.losses.size()) >= config_.min_history) {
    const double z_loss = z_score(state_.losses, loss);
    const double z_norm = z_score(state_.grad_norms, grad_norm);
    last_z_ = std::max(z_loss, z_norm);
    if (z_loss > config_.z_threshold)
      last_reason_ = SpikeReason::loss_outlier;
    else if (z_norm > config_.z_threshold)
      last_reason_ = SpikeReason::grad_norm_outlier;
  }
  if (last_reason_ != SpikeReason::none) {
    ++state_.consecutive_flagged;
    ++state_.total_flagged;
    if (std::isfinite(loss) && std::isfinite(grad_norm)) {
      state_.flagged_losses.push_back(loss);
      state_.flagged_grad_norms.push_back(grad_norm);
      while (static_cast<int>(state_.flagged_losses.size()) > config_.max_consecutive) {
        state_.flagged_losses.pop_front();
        state_.flagged_grad_norms.pop_front();
      }
    }
    return true;
  }
  state_.consecutive_flagged = 0;
  state_.flagged_losses.clear();
  state_.flagged_grad_norms.clear();
  state_.losses.push_back(loss);
  state_.grad_norms.push_back(grad_norm);
  while (static_cast<int>(state_.losses.size()) > config_.window) {
    state_.losses.pop_front();
    state_.grad_norms.pop_front();
  }
  return false;
}

bool SpikeGuard::should_rollback() const {
  return config_.enabled && state_.consecutive_flagged >= config_.max_consecutive;
}

bool SpikeGuard::accept_new_level() {
  if (state_.flagged_losses.empty()) return false;
  state_.losses = state_.flagged_losses;
  state_.grad_norms = state_.flagged_grad_norms;
  state_.flagged_losses.clear();
  state_.flagged_grad_norms.clear();
  state_.consecutive_flagged = 0;
  return true;
}

void SpikeGuard::load_state(const checkpoint::SpikeGuardState& state) {
  if (state.losses.size() != state.grad_norms.size() ||
      state.flagged_losses.size() != state.flagged_grad_norms.size())
    throw InputError("spike guard state: losses and grad_norms differ in length");
  state_ = state;
  while (static_cast<int>(state_.losses.size()) > config_.window) {  // window shrunk on resume
    state_.losses.pop_front();
    state_.grad_norms.pop_front();
  }
}

}  // namespace glm::optim
