// Automatic spike recovery of the trainer (trainer.h, optim/spike_recovery.h): the rollback
// to the newest checkpoint before the spike, the skipped samples, the lr scale and EGS alpha,
// and the budget.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "train/trainer.h"

namespace glm::train {

bool Trainer::recover_from_spike(const std::string& reason) {
  const config::SpikeRecoveryConfig& rc = config_.spike_guard.recovery;
  const std::string& root = config_.train.save_dir;
  const std::int64_t spike_step = divergence_.spike_step();
  const config::SkipRange skip{divergence_.spike_samples(), state_.consumed_samples};
  finish_background_save();  // a checkpoint still being written may be the one to roll back to
  // Rank 0's view of the save root, agreed by every rank (as save() agrees on it).
  double found[2] = {0, 0};
  if (world_rank() == 0 && !root.empty())
    if (auto s = checkpoint::newest_checkpoint_before(root, spike_step)) found[0] = 1, found[1] = double(*s);
  world_sum(found);
  if (found[0] == 0) {
    const int run = spike_guard_.consecutive_flagged();
    const bool accepted = spike_guard_.should_rollback() && spike_guard_.accept_new_level();
    spdlog::warn("spike recovery: {} at step {}, but {} holds no checkpoint before step {}, the "
                 "spike's first; {}",
                 reason, state_.step, root.empty() ? "the run (no --save)" : root, spike_step,
                 accepted ? fmt::format("accepting the {} flagged steps' level instead", run)
                          : std::string("training on"));
    metrics_->log_event({{"event", "spike_recovery_impossible"}, {"step", state_.step},
                         {"reason", reason}, {"spike_step", spike_step}});
    divergence_.reset();
    return false;
  }
  const auto target = static_cast<std::int64_t>(found[1]);
  std::vector<checkpoint::RecoveryRecord> records = spike_guard_.state().recoveries;
  if (!optim::recovery_budget_left(rc, records, state_.step)) {
    save_as_configured(root);
    finish_background_save();
    throw Error(fmt::format(
        "spike recovery: {} at step {}, and the budget of {} recoveries within {} steps "
        "(spike_guard.recovery.max_recoveries, budget_steps) is spent: stopped with a checkpoint "
        "of step {} in {}; resume from step {} or earlier with resume.skip_samples, resume.lr "
        "or resume.egs_alpha (docs/checkpoints.md)",
        reason, state_.step, rc.max_recoveries, rc.budget_steps, state_.step, root, target));
  }
  const checkpoint::RecoveryRecord rec{state_.step, reason,   spike_step,
                                       skip.begin,  skip.end, target};
  records.push_back(rec);
  config_.resume.skip_samples.push_back(skip);
  if (rc.lr_scale != 1.0) {
    config_.resume.lr = config_.optim.lr * rc.lr_scale;
    config_.resume.lr_min = config_.optim.lr_min * rc.lr_scale;
  }
  if (rc.egs_alpha >= 0) config_.resume.egs_alpha = rc.egs_alpha;
  spdlog::warn("spike recovery {}: {} at step {} (spike from step {}): rolling back to the "
               "checkpoint of step {}, skipping samples {}..{}{}{}",
               records.size(), reason, state_.step, spike_step, target, skip.begin, skip.end - 1,
               rc.lr_scale != 1.0 ? fmt::format(", lr {:g} -> {:g}", config_.optim.lr, *config_.resume.lr)
                                  : std::string(),
               rc.egs_alpha >= 0 ? fmt::format(", EGS alpha {:g}", rc.egs_alpha) : std::string());
  load(root, target);
  spike_guard_.set_recoveries(std::move(records));
  divergence_.reset();
  nlohmann::json event = rec;
  event["event"] = "spike_recovery";
  event["lr"] = config_.optim.lr;
  event["lr_min"] = config_.optim.lr_min;
  if (config_.resume.egs_alpha) event["egs_alpha"] = *config_.resume.egs_alpha;
  metrics_->log_event(event);
  return true;
}

}  // namespace glm::train
