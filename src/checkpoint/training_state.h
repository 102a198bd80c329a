// The training loop's state a checkpoint carries besides tensors (meta.json "loss_scaler"
// and "spike_guard"): the dynamic loss scaler's counters and the spike guard's window,
// flagged run and recoveries. optim's LossScaler and SpikeGuard give and take them; the
// checkpoint format stores them. Each from_json throws InputError naming the key
// ("loss_scaler.scale", "spike_guard.losses").
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace glm::checkpoint {

// Everything a checkpoint needs to continue bit-exactly.
struct LossScalerState {
  double scale = 65536.0;
  std::int64_t growth_tracker = 0;            // clean steps since the last growth or overflow
  int hysteresis_tracker = 2;                 // overflows left before a backoff
  std::int64_t skipped_steps = 0;             // total skipped (overflow) steps
  std::int64_t clean_steps = 0;               // consecutive clean steps (not reset by growth)
  std::int64_t updates = 0;                   // update() calls so far
  std::vector<std::int64_t> recent_backoffs;  // update() indices of backoffs in the window
  bool operator==(const LossScalerState&) const = default;
};
// nlohmann ADL hooks: json j = state; state = j.get<LossScalerState>(). from_json throws
// InputError naming a missing or mistyped key.
void to_json(nlohmann::json& j, const LossScalerState& s);
void from_json(const nlohmann::json& j, LossScalerState& s);

// One recovery, kept in the spike guard's checkpointed state and in metrics.jsonl.
struct RecoveryRecord {
  std::int64_t step = 0;  // the step at which the signature showed
  std::string reason;
  std::int64_t spike_step = 0;     // the first step of the spike
  std::int64_t samples_begin = 0;  // the samples skipped: [begin, end)
  std::int64_t samples_end = 0;
  std::int64_t rolled_back_to = 0;  // the checkpoint's step
  bool operator==(const RecoveryRecord&) const = default;
};
void to_json(nlohmann::json& j, const RecoveryRecord& r);
void from_json(const nlohmann::json& j, RecoveryRecord& r);

// Checkpointed state: the window (oldest first) and the counters.
struct SpikeGuardState {
  std::deque<double> losses;
  std::deque<double> grad_norms;
  int consecutive_flagged = 0;
  std::int64_t total_flagged = 0;
  // The finite values of the current run of flagged steps (at most K, oldest first).
  std::deque<double> flagged_losses;
  std::deque<double> flagged_grad_norms;
  // Every automatic recovery of this run, oldest first (kept across the rollbacks).
  std::vector<RecoveryRecord> recoveries;
  bool operator==(const SpikeGuardState&) const = default;
};
// nlohmann ADL hooks; from_json throws InputError naming a missing or mistyped key.
void to_json(nlohmann::json& j, const SpikeGuardState& s);
void from_json(const nlohmann::json& j, SpikeGuardState& s);

}  // namespace glm::checkpoint
