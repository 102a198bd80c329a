// JSON of the training state a checkpoint carries (checkpoint/training_state.h).
#include "checkpoint/training_state.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm::checkpoint {

namespace {

// Reads j[key] into out, turning a missing key or wrong type into an InputError naming it.
template <class T>
void read_key(const nlohmann::json& j, const char* section, const char* key, T& out) {
  if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object", section));
  auto it = j.find(key);
  if (it == j.end()) throw InputError(fmt::format("{}.{}: missing", section, key));
  try {
    out = it->template get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}.{}: {}", section, key, e.what()));
  }
}

}  // namespace

void to_json(nlohmann::json& j, const LossScalerState& s) {
  j = {{"scale", s.scale},
       {"growth_tracker", s.growth_tracker},
       {"hysteresis_tracker", s.hysteresis_tracker},
       {"skipped_steps", s.skipped_steps},
       {"clean_steps", s.clean_steps},
       {"updates", s.updates},
       {"recent_backoffs", s.recent_backoffs}};
}

void from_json(const nlohmann::json& j, LossScalerState& s) {
  constexpr const char* kSection = "loss_scaler";
  read_key(j, kSection, "scale", s.scale);
  read_key(j, kSection, "growth_tracker", s.growth_tracker);
  read_key(j, kSection, "hysteresis_tracker", s.hysteresis_tracker);
  read_key(j, kSection, "skipped_steps", s.skipped_steps);
  read_key(j, kSection, "clean_steps", s.clean_steps);
  read_key(j, kSection, "updates", s.updates);
  read_key(j, kSection, "recent_backoffs", s.recent_backoffs);
  if (!(s.scale > 0) || !std::isfinite(s.scale))
    throw InputError(fmt::format("{}.scale: {} must be positive and finite", kSection, s.scale));
}

void to_json(nlohmann::json& j, const RecoveryRecord& r) {
  j = {{"step", r.step},
       {"reason", r.reason},
       {"spike_step", r.spike_step},
       {"samples_begin", r.samples_begin},
       {"samples_end", r.samples_end},
       {"rolled_back_to", r.rolled_back_to}};
}

void from_json(const nlohmann::json& j, RecoveryRecord& r) {
  try {
    r.step = j.at("step").get<std::int64_t>();
    r.reason = j.at("reason").get<std::string>();
    r.spike_step = j.at("spike_step").get<std::int64_t>();
    r.samples_begin = j.at("samples_begin").get<std::int64_t>();
    r.samples_end = j.at("samples_end").get<std::int64_t>();
    r.rolled_back_to = j.at("rolled_back_to").get<std::int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("spike_guard.recoveries: {}", e.what()));
  }
}

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
  read_key(j, "spike_guard", "losses", losses);
  read_key(j, "spike_guard", "grad_norms", norms);
  read_key(j, "spike_guard", "consecutive_flagged", s.consecutive_flagged);
  read_key(j, "spike_guard", "total_flagged", s.total_flagged);
  if (losses.size() != norms.size())
    throw InputError(fmt::format("spike_guard.grad_norms: {} entries but {} losses", norms.size(),
                                 losses.size()));
  s.losses.assign(losses.begin(), losses.end());
  s.grad_norms.assign(norms.begin(), norms.end());
  // The current flagged run (absent from checkpoints written before it was kept: empty).
  std::vector<double> flagged_losses, flagged_norms;
  if (j.contains("flagged_losses") || j.contains("flagged_grad_norms")) {
    read_key(j, "spike_guard", "flagged_losses", flagged_losses);
    read_key(j, "spike_guard", "flagged_grad_norms", flagged_norms);
  }
  if (flagged_losses.size() != flagged_norms.size())
    throw InputError(fmt::format("spike_guard.flagged_grad_norms: {} entries but {} flagged losses",
                                 flagged_norms.size(), flagged_losses.size()));
  s.flagged_losses.assign(flagged_losses.begin(), flagged_losses.end());
  s.flagged_grad_norms.assign(flagged_norms.begin(), flagged_norms.end());
  s.recoveries.clear();  // (absent from checkpoints of runs that never recovered: none)
  if (j.contains("recoveries")) read_key(j, "spike_guard", "recoveries", s.recoveries);
}

}  // namespace glm::checkpoint
