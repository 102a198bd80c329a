// Reading the "spike_guard" config object (config/spike_guard_config.h).
#include "config/spike_guard_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_fields.h"

namespace glm::config {

SpikeRecoveryConfig SpikeRecoveryConfig::from_json(const nlohmann::json& j,
                                                   const std::string& source,
                                                   const std::string& section) {
  SpikeRecoveryConfig c;
  JsonFields f(j, section, source);
  f.get("enabled", c.enabled);
  f.get("lr_scale", c.lr_scale, 1e-6, 1.0);
  f.get("egs_alpha", c.egs_alpha, -1.0, 1.0);
  f.get("max_recoveries", c.max_recoveries, 1, 1 << 20);
  f.get("budget_steps", c.budget_steps, 1, 1 << 30);
  f.get("nonfinite_steps", c.nonfinite_steps, 1, 1 << 20);
  throw_if_problems(f.finish(), source);
  return c;
}

nlohmann::json SpikeRecoveryConfig::to_json() const {
  return {{"enabled", enabled},           {"lr_scale", lr_scale},
          {"egs_alpha", egs_alpha},       {"max_recoveries", max_recoveries},
          {"budget_steps", budget_steps}, {"nonfinite_steps", nonfinite_steps}};
}

SpikeGuardConfig SpikeGuardConfig::from_json(const nlohmann::json& j, const std::string& source,
                                             const std::string& section) {
  SpikeGuardConfig c;
  JsonFields f(j, section, source);
  f.get("enabled", c.enabled);
  f.get("window", c.window, 2, 1 << 20);
  f.get("min_history", c.min_history, 2, 1 << 20);
  f.get("z_threshold", c.z_threshold, 0.1, 1e6);
  f.get("max_consecutive", c.max_consecutive, 1, 1 << 20);
  if (c.min_history > c.window)
    f.error("min_history", fmt::format("{} is larger than window {}", c.min_history, c.window));
  const nlohmann::json recovery = f.object("recovery");
  throw_if_problems(f.finish(), source);
  if (!recovery.is_null())
    c.recovery = SpikeRecoveryConfig::from_json(recovery, source, section + ".recovery");
  return c;
}

nlohmann::json SpikeGuardConfig::to_json() const {
  return {{"enabled", enabled},
          {"window", window},
          {"min_history", min_history},
          {"z_threshold", z_threshold},
          {"max_consecutive", max_consecutive},
          {"recovery", recovery.to_json()}};
}

}  // namespace glm::config
