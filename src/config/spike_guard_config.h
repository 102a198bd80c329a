// The "spike_guard" object of a run config and its "recovery" part: when the loss-spike
// guard flags a step (optim/spike_guard.h) and when the trainer rolls back instead
// (optim/spike_recovery.h). Read strictly: unknown keys and bad values are InputErrors
// naming "spike_guard.key".
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace glm::config {

struct SpikeRecoveryConfig {
  bool enabled = false;
  double lr_scale = 1.0;    // multiplies optim.lr and optim.lr_min at each recovery
  double egs_alpha = -1.0;  // >= 0: the EGS alpha from the recovery on (constant)
  int max_recoveries = 3;
  int budget_steps = 1000;
  int nonfinite_steps = 3;

  static SpikeRecoveryConfig from_json(const nlohmann::json& j, const std::string& source,
                                       const std::string& section = "spike_guard.recovery");
  nlohmann::json to_json() const;
};

struct SpikeGuardConfig {
  bool enabled = false;
  int window = 100;
  int min_history = 20;
  double z_threshold = 5.0;
  int max_consecutive = 3;  // K
  SpikeRecoveryConfig recovery;  // spike_guard.recovery: roll back instead (spike_recovery.h)

  static SpikeGuardConfig from_json(const nlohmann::json& j, const std::string& source,
                                    const std::string& section = "spike_guard");
  nlohmann::json to_json() const;
};

}  // namespace glm::config
