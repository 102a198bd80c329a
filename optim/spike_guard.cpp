// The spike guard's window statistics and checkpoint state (optim/spike_guard.h).
#include "optim/spike_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

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

template <class T>
void read_key(const nlohmann::json& j, const char* key, T& out) {
  if (!j.is_object()) throw InputError("spike_guard state: expected a JSON object");
  auto it = j.find(key);
  if (it == j.end()) throw InputError(fmt::format("spike_guard.{}: missing", key));
  try {
    out = it->template get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("spike_guard.{}: {}", key, e.what()));
  }
}

}  // namespace

void to_json(nlohmann::json& j, const SpikeGuardState& s) {
  j = {{"losses", std::vector<double>(s.losses.begin(), s.losses.end())},
       {"grad_norms", std::vector<double>(s.grad_norms.begin(), s.grad_norms.end())},
       {"consecutive_flagged", s.consecutive_flagged},
       {"total_flagged", s.total_flagged},
       {"flagged_losses", std::vector<double>(s.flagged_losses.begin(), s.flagged_losses.end())},
       {"flagged_grad_norms",
        std::vector<double>(s.flagged_grad_norms.begin(), s.flagged_grad_norms.end())},
       {"recoveries", s.recoveries}};
}

void from_json(const nlohmann::json& j, SpikeGuardState& s) {
  std::vector<double> losses, norms;
  read_key(j, "losses", losses);
  read_key(j, "grad_norms", norms);
  read_key(j, "consecutive_flagged", s.consecutive_flagged);
  read_key(j, "total_flagged", s.total_flagged);
  if (losses.size() != norms.size())
    throw InputError(fmt::format("spike_guard.grad_norms: {} entries but {} losses", norms.size(),
                                 losses.size()));
  s.losses.assign(losses.begin(), losses.end());
  s.grad_norms.assign(norms.begin(), norms.end());
  // The current flagged run (absent from checkpoints written before it was kept: empty).
  std::vector<double> flagged_losses, flagged_norms;
  if (j.contains("flagged_losses") || j.contains("flagged_grad_norms")) {
    read_key(j, "flagged_losses", flagged_losses);
    read_key(j, "flagged_grad_norms", flagged_norms);
  }
  if (flagged_losses.size() != flagged_norms.size())
    throw InputError(fmt::format("spike_guard.flagged_grad_norms: {} entries but {} flagged losses",
                                 flagged_norms.size(), flagged_losses.size()));
  s.flagged_losses.assign(flagged_losses.begin(), flagged_losses.end());
  s.flagged_grad_norms.assign(flagged_norms.begin(), flagged_norms.end());
  s.recoveries.clear();  // (absent from checkpoints of runs that never recovered: none)
  if (j.contains("recoveries")) read_key(j, "recoveries", s.recoveries);
}

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

void SpikeGuard::load_state(const SpikeGuardState& state) {
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
