#include "optim/spike_recovery.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace glm::optim {

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

bool recovery_budget_left(const config::SpikeRecoveryConfig& c, const std::vector<RecoveryRecord>& records,
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
