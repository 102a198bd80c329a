// The loss-scale state machine (optim/loss_scaler.h).
#include "optim/loss_scaler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"

namespace glm::optim {

LossScalerConfig loss_scaler_config(const config::OptimConfig& o, bool fp16) {
  if (!fp16) return LossScalerConfig::fixed(1.0);
  LossScalerConfig c;
  c.initial_scale = o.initial_loss_scale;
  c.growth_interval = o.loss_scale_window;
  c.hysteresis = o.hysteresis;
  c.min_scale = o.min_loss_scale;
  return c;
}

LossScalerConfig LossScalerConfig::fixed(double scale) {
  LossScalerConfig c;
  c.dynamic = false;
  c.initial_scale = scale;
  c.min_scale = std::min(c.min_scale, scale);
  return c;
}

void LossScalerConfig::validate() const {
  std::vector<std::string> problems;
  auto bad = [&](const char* field, const std::string& msg) {
    problems.push_back(fmt::format("loss scaler {}: {}", field, msg));
  };
  if (!(initial_scale > 0) || !std::isfinite(initial_scale))
    bad("initial_scale", fmt::format("{} must be positive and finite", initial_scale));
  if (!(min_scale > 0) || min_scale > initial_scale)
    bad("min_scale",
        fmt::format("{} must be in (0, initial_scale = {}]", min_scale, initial_scale));
  if (dynamic) {
    if (!(growth_factor > 1)) bad("growth_factor", fmt::format("{} must be > 1", growth_factor));
    if (!(backoff_factor > 0 && backoff_factor < 1))
      bad("backoff_factor", fmt::format("{} must be in (0, 1)", backoff_factor));
    if (growth_interval < 1)
      bad("growth_interval", fmt::format("{} must be >= 1", growth_interval));
    if (hysteresis < 1) bad("hysteresis", fmt::format("{} must be >= 1", hysteresis));
    if (collapse_backoffs < 1)
      bad("collapse_backoffs", fmt::format("{} must be >= 1", collapse_backoffs));
    if (collapse_window < 1)
      bad("collapse_window", fmt::format("{} must be >= 1", collapse_window));
  }
  if (!problems.empty()) {
    std::string msg = problems[0];
    for (std::size_t i = 1; i < problems.size(); ++i) msg += "\n" + problems[i];
    throw InputError(msg);
  }
}

LossScaler::LossScaler(LossScalerConfig config) : config_(config) {
  config_.validate();
  state_.scale = config_.initial_scale;
  state_.hysteresis_tracker = config_.hysteresis;
}

float LossScaler::inv_scale() const { return static_cast<float>(1.0 / state_.scale); }

bool LossScaler::update(bool found_inf) {
  const std::int64_t now = state_.updates++;
  if (!config_.dynamic) {
    if (found_inf) {
      ++state_.skipped_steps;
      state_.clean_steps = 0;
    } else {
      ++state_.clean_steps;
    }
    return found_inf;
  }
  // Forget backoffs that left the collapse window.
  auto& recent = state_.recent_backoffs;
  recent.erase(std::remove_if(recent.begin(), recent.end(),
                              [&](std::int64_t t) { return t <= now - config_.collapse_window; }),
               recent.end());
  if (found_inf) {
    // Overflow: skip; spend one unit of hysteresis; back off once it is used up.
    ++state_.skipped_steps;
    state_.clean_steps = 0;
    state_.growth_tracker = 0;
    state_.hysteresis_tracker = std::max(0, state_.hysteresis_tracker - 1);
    if (state_.hysteresis_tracker == 0) {
      state_.scale = std::max(state_.scale * config_.backoff_factor, config_.min_scale);
      recent.push_back(now);
    }
    return true;
  }
  // Clean: grow after a full window of clean steps, which also restores the hysteresis.
  ++state_.clean_steps;
  if (++state_.growth_tracker == config_.growth_interval) {
    state_.growth_tracker = 0;
    state_.hysteresis_tracker = config_.hysteresis;
    state_.scale *= config_.growth_factor;
  }
  return false;
}

bool LossScaler::collapsing() const {
  if (!config_.dynamic) return false;
  return state_.scale <= config_.collapse_scale ||
         static_cast<int>(state_.recent_backoffs.size()) >= config_.collapse_backoffs;
}

void LossScaler::load_state(const checkpoint::LossScalerState& state) {
  if (!(state.scale > 0) || !std::isfinite(state.scale))
    throw InputError(
        fmt::format("loss scaler state: scale {} must be positive and finite", state.scale));
  state_ = state;
  if (!config_.dynamic) state_.scale = config_.initial_scale;  // fixed mode keeps its scale
}

void LossScaler::set_scale(double scale) {
  if (!(scale > 0) || !std::isfinite(scale))
    throw InputError(fmt::format("loss scale override {} must be positive and finite", scale));
  state_.scale = scale;
}

}  // namespace glm::optim
