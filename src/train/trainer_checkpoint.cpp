// The trainer's checkpoints (trainer.h): which rank writes what when it saves, and a load
// that restores the optimizer's state into this run's layout and applies the resume
// overrides (config/resume_check.h).
#include <algorithm>
#include <chrono>
#include <tuple>
#include <filesystem>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "config/resume_check.h"
#include "core/heartbeat.h"
#include "optim/lr_schedule.h"
#include "train/signals.h"
#include "train/trainer.h"

namespace glm::train {
namespace {

// What a checkpoint's run decided about its own continuation (its resume section: an
// automatic spike recovery's skipped samples, lr and EGS alpha, or an operator's) holds for
// every later resume from it: its skip ranges join ours, and its value overrides apply
// unless this run sets its own.
void adopt_saved_resume(config::ResumeConfig& ours, const nlohmann::json& saved_config,
                        const std::string& meta_path, std::vector<std::string>& notes) {
  const config::ResumeConfig saved = config::ResumeConfig::from_json(
      saved_config.value("resume", nlohmann::json()), meta_path);
  for (const config::SkipRange& range : saved.skip_samples) {
    if (std::find(ours.skip_samples.begin(), ours.skip_samples.end(), range) !=
        ours.skip_samples.end())
      continue;
    ours.skip_samples.push_back(range);
    notes.push_back(fmt::format("resume.skip_samples [{}, {}) kept from the checkpoint",
                                range.begin, range.end));
  }
  for (auto [key, mine, theirs] : {std::tuple{"lr", &ours.lr, saved.lr},
                                   std::tuple{"lr_min", &ours.lr_min, saved.lr_min},
                                   std::tuple{"egs_alpha", &ours.egs_alpha, saved.egs_alpha}})
    if (!*mine && theirs) {
      *mine = theirs;
      notes.push_back(fmt::format("resume.{} {:g} kept from the checkpoint", key, *theirs));
    }
}

}  // namespace

void Trainer::handle_save_failure(const checkpoint::SaveError& e) {
  if (config_.train.save_failure == "stop") throw;
  spdlog::warn("step {}: {}; training continues (train.save_failure \"continue\"), the next "
               "save step tries again",
               state_.step, e.what());
  metrics_->log_event({{"event", "save_failed"}, {"step", state_.step}, {"error", e.what()}});
}

void Trainer::save_as_configured(const std::string& save_root) {
  try {
    save(save_root);
  } catch (const checkpoint::SaveError& e) {
    handle_save_failure(e);
  }
}

void Trainer::finish_background_save() {
  if (!background_save_) return;
  heartbeat(Phase::save);
  std::unique_ptr<BackgroundSave> bg = std::move(background_save_);
  try {
    const checkpoint::SaveResult r = bg->finish();
    report_save(r, bg->step(), bg->blocked_seconds());
  } catch (const checkpoint::SaveError& e) {
    handle_save_failure(e);
  }
}

void Trainer::poll_background_save() {
  if (!background_save_) return;
  double busy[1] = {background_save_->written() ? 0.0 : 1.0};
  world_sum(busy);  // every rank publishes at the same step, once every writer is done
  if (busy[0] == 0) finish_background_save();
}

void Trainer::stop_with_checkpoint() {
  const auto& dir = config_.train.save_dir;
  if (!dir.empty()) save_as_configured(dir);
  finish_background_save();
  spdlog::warn("{} received: stopped after step {}{}", stop_signals_name(stop_signals_), state_.step,
               dir.empty() ? " without a checkpoint (no train.save_dir / --save)" : "");
  metrics_->log_event({{"event", "stop"}, {"signals", stop_signals_name(stop_signals_)}, {"step", state_.step}});
}

void Trainer::report_save(const checkpoint::SaveResult& r, std::int64_t step,
                          double blocked_seconds) {
  if (world_rank() != 0) return;
  spdlog::info("saved checkpoint {} (step {}, {:.1f} MB) in {:.2f} s ({:.0f} MB/s), the step "
               "blocked {:.3f} s",
               r.dir, step, r.bytes / 1e6, r.seconds, r.bytes / 1e6 / std::max(r.seconds, 1e-9),
               blocked_seconds);
  for (const auto& d : r.pruned) spdlog::info("removed old checkpoint {} (keep_last {})", d,
                                              config_.train.keep_last);
  if (!r.off_lineage.empty())
    spdlog::warn("kept {} checkpoint(s) off this run's lineage (an abandoned branch or another "
                 "run's; keep_last never removes them): {}",
                 r.off_lineage.size(), fmt::join(r.off_lineage, ", "));
  metrics_->log_event({{"event", "save"}, {"step", step}, {"dir", r.dir}, {"bytes", r.bytes},
                       {"seconds", r.seconds}, {"blocked_seconds", blocked_seconds},
                       {"mode", config_.train.save_mode}});
}

checkpoint::SaveResult Trainer::save(const std::string& save_root) {
  heartbeat(Phase::save);
  finish_background_save();  // at most one save in flight
  // DP ranks of one TP x PP position hold identical state: DP rank 0 of each position writes
  // its pieces. With ZeRO-1 each DP rank writes its own shard instead; nothing is gathered.
  // Whether this step is already saved is rank 0's view of the directory, agreed by every
  // rank: ranks that saw a shared file system differently would otherwise split between
  // the collective save below and returning here, and hang.
  const auto existing = std::filesystem::path(save_root) / checkpoint::iter_dir_name(state_.step);
  double saved[1] = {world_rank() == 0 && state_.step == checkpoint_step_ &&
                             std::filesystem::exists(existing / checkpoint::kMetaFile)
                         ? 1.0
                         : 0.0};
  world_sum(saved);
  if (saved[0] > 0) {
    if (world_rank() == 0)
      spdlog::info("checkpoint of step {} already in {}", state_.step, save_root);
    return {existing.string(), 0, 0, {}, {}};
  }
  const auto t0 = std::chrono::steady_clock::now();
  const checkpoint::OptimizerTensors tensors = optimizer_->own_state();
  checkpoint::CollectiveSave group{world_size() > 1 ? world() : nullptr, world_rank(),
                                   dp_rank() == 0 || optimizer_->sharded(),
                                   checkpoint::checkpoint_writers(config_.model, layout())};
  checkpoint::PhasedSave phased = checkpoint::PhasedSave::begin(
      save_root, checkpoint_meta(), config_.train.keep_last, group, config_.model);
  checkpoint_step_ = state_.step;
  if (config_.train.save_mode == "async") {
    // The step waits only for a host copy of this rank's state. On a GPU own_state() already
    // is one (the copy off the device); on the CPU it views the live buffers, so they are
    // copied into a snapshot buffer kept for the next save.
    checkpoint::OptimizerTensors snap = tensors;
    if (optimizer_->adamw().master().device().is_cpu()) {
      checkpoint::OptimizerTensors& kept = save_snapshot_;
      if (!kept.master.defined() || kept.master.numel() != tensors.master.numel()) {
        const Shape n{tensors.master.numel()};
        kept.master = Tensor::empty(n, DType::f32);
        kept.exp_avg = Tensor::empty(n, DType::f32);
        kept.exp_avg_sq = Tensor::empty(n, DType::f32);
      }
      kept.layout = tensors.layout;
      kept.range = tensors.range;
      kept.master.copy_from(tensors.master);
      kept.exp_avg.copy_from(tensors.exp_avg);
      kept.exp_avg_sq.copy_from(tensors.exp_avg_sq);
      snap = kept;
    }
    const double blocked =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    background_save_ = std::make_unique<BackgroundSave>(std::move(phased), snap, blocked);
    if (world_rank() == 0)
      spdlog::info("checkpoint of step {}: the step blocked {:.3f} s (state copied to host "
                   "memory); writing in the background",
                   state_.step, blocked);
    return {};
  }
  phased.write(tensors);
  checkpoint::SaveResult r = phased.finish();
  report_save(r, state_.step, r.seconds);
  return r;
}

void Trainer::load(const std::string& dir, std::optional<std::int64_t> iter) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = checkpoint::resolve_checkpoint_dir(dir, iter);
  const std::string meta_path = (std::filesystem::path(path) / checkpoint::kMetaFile).string();
  checkpoint::CheckpointMeta meta = checkpoint::read_checkpoint_meta(path);
  std::vector<std::string> notes;
  config::RunConfig wanted = config_;
  adopt_saved_resume(wanted.resume, meta.config, meta_path, notes);
  config::RunConfig rc = config::reconcile_resume_config(wanted, meta.config, meta_path, notes);
  const checkpoint::CheckpointLayout here = checkpoint_meta().layout;
  if (meta.layout != here)
    notes.push_back(fmt::format("re-cut from layout dp {} tp {} pp {}{} ({} ranks) to dp {} tp {} "
                                "pp {}{}",
                                meta.layout.dp, meta.layout.tp, meta.layout.pp,
                                meta.layout.zero ? " zero" : "", meta.layout.world_size, here.dp,
                                here.tp, here.pp, here.zero ? " zero" : ""));

  // Each rank reads (and checksums) only the rank files that hold part of its range, and
  // the ranks agree that all of them could before any state changes: a rank that finds a
  // corrupt file names it; the others stop with it instead of waiting in a collective.
  std::string failure;
  try {
    optimizer_->load_state([&](const checkpoint::OptimizerTensors& mine) {
      checkpoint::load_optimizer_tensors(path, meta, mine);
    });
  } catch (const InputError& e) {
    failure = e.what();
  }
  double failed[1] = {failure.empty() ? 0.0 : 1.0};
  world_sum(failed);
  if (!failure.empty()) throw InputError(fmt::format("rank {}: {}", world_rank(), failure));
  if (failed[0] > 0)
    throw InputError(fmt::format("{}: another rank could not load its part of the checkpoint "
                                 "(its message names the file)",
                                 path));
  optimizer_->set_step_count(meta.adamw_steps);
  // A dynamic scaler continues only from a dynamic one: an fp16 run resumed from an fp32 or
  // bf16 checkpoint (whose scale is fixed at 1) starts from the configured initial scale.
  const std::string saved_precision =
      meta.config.value("train", nlohmann::json::object()).value("precision", "fp32");
  if (scaler_.dynamic() && saved_precision != "fp16")
    notes.push_back(fmt::format("loss scaler starts at {:g}: the checkpoint is {}, without one",
                                scaler_.scale(), saved_precision));
  else
    scaler_.load_state(meta.loss_scaler);
  spike_guard_.load_state(meta.spike_guard);
  state_ = {meta.step, meta.consumed_samples, meta.skipped_steps};
  restore_data_blend(meta, rc, meta_path, notes);
  checkpoint_step_ = meta.step;
  resumed_from_ = meta.step;
  optimizer_->write_params();  // as after a step
  rc.source = config_.source;
  config_ = rc;
  if (config_.resume.loss_scale) {
    if (scaler_.dynamic()) {
      notes.push_back(fmt::format("resume override: loss scale {:g} -> {:g}", scaler_.scale(),
                                  *config_.resume.loss_scale));
      scaler_.set_scale(*config_.resume.loss_scale);
    } else {
      notes.push_back("resume.loss_scale ignored: fp32 runs use a fixed scale of 1");
    }
  }
  if (world_rank() == 0)
    for (const auto& n : notes) spdlog::info("resume: {}", n);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::int64_t bytes = meta.total_bytes();
  spdlog::info("loaded checkpoint {} (step {}, {} samples consumed, {:.1f} MB) in {:.2f} s",
               path, meta.step, meta.consumed_samples, bytes / 1e6, seconds);
  metrics_->log_event({{"event", "load"}, {"step", meta.step}, {"dir", path}, {"bytes", bytes},
                       {"seconds", seconds}, {"notes", notes}});
}

// The training stream continues at consumed_samples: with one dataset, its index is the
// global one; a blend continues from its saved schedule and per-dataset counts, and new
// weights in the config start a phase there, reached over train.data_warmup_samples.
void Trainer::restore_data_blend(const checkpoint::CheckpointMeta& meta,
                                 const config::RunConfig& rc, const std::string& meta_path,
                                 std::vector<std::string>& notes) {
  const std::vector<data::BlendSource> sources = rc.train.datasets();
  const std::int64_t g = meta.consumed_samples;
  if (meta.data.is_null()) {
    if (sources.size() > 1)
      throw InputError(fmt::format(
          "{}: saved by a run of one dataset, so how many samples each dataset of the blend "
          "train.data has given is unknown: a blend continues only a blended run's checkpoint",
          meta_path));
    data_.train->set_blend(data::BlendSchedule(sources), g, {g});
    return;
  }
  data::BlendSchedule blend = data::BlendSchedule::from_json(meta.data.at("blend"), meta_path);
  std::vector<std::int64_t> counts;
  try {
    counts = meta.data.at("samples").get<std::vector<std::int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: data.samples: {}", meta_path, e.what()));
  }
  std::vector<std::string> saved_names, names;
  for (const data::BlendSource& s : blend.sources()) saved_names.push_back(s.name);
  for (const data::BlendSource& s : sources) names.push_back(s.name);
  if (names != saved_names || counts.size() != names.size())
    throw InputError(fmt::format(
        "{}: the checkpoint's blend has the datasets [{}], this run's train.data [{}]: a run "
        "may change their weights, not which datasets it blends",
        meta_path, fmt::join(saved_names, ", "), fmt::join(names, ", ")));
  std::vector<double> weights;
  bool changed = false;
  for (std::size_t d = 0; d < sources.size(); ++d) {
    weights.push_back(sources[d].weight);
    changed |= sources[d].weight != blend.sources()[d].weight;
  }
  if (changed) {
    std::vector<std::string> moves;
    for (std::size_t d = 0; d < sources.size(); ++d)
      moves.push_back(fmt::format("{} {:g} -> {:g}", names[d], blend.sources()[d].weight,
                                  weights[d]));
    blend.change_weights(g, weights, rc.train.data_warmup_samples);
    notes.push_back(fmt::format("data blend weights from sample {}: {}, reached over {} samples",
                                g, fmt::join(moves, ", "), rc.train.data_warmup_samples));
    metrics_->log_event({{"event", "blend_change"}, {"step", meta.step}, {"sample", g},
                         {"blend", blend.to_json()}});
  }
  data_.train->set_blend(std::move(blend), g, std::move(counts));
}

checkpoint::CheckpointMeta Trainer::checkpoint_meta() const {
  checkpoint::CheckpointMeta m;
  m.step = state_.step;
  m.consumed_samples = state_.consumed_samples;
  m.skipped_steps = state_.skipped_steps;
  m.adamw_steps = optimizer_->step_count();
  m.seed = static_cast<std::uint64_t>(config_.train.seed);
  m.loss_scaler = scaler_.state();
  m.spike_guard = spike_guard_.state();
  m.schedule = {{"lr", optim::learning_rate(config_.optim, state_.consumed_samples)},
                {"global_batch", optim::global_batch_size(config_.batch, state_.consumed_samples)},
                {"egs_alpha", optim::egs_alpha(config_.egs_schedule, state_.step)},
                {"note", "the next step's values: functions of consumed_samples and step"}};
  config::RunConfig rc = config_;
  rc.parallel = layout();  // the layout that wrote it, also in the config it restates
  m.config = rc.to_json();
  m.layout = {world_size(), dp_size(), tp_size(), pp_size(), optimizer_->sharded() ? 1 : 0};
  if (data_.train->num_datasets() > 1)
    m.data = {{"blend", data_.train->blend().to_json()},
              {"samples", data_.train->samples_per_dataset(state_.consumed_samples)}};
  m.parent_step = checkpoint_step_;  // this run's previous save, or the step it resumed from
  m.resumed_from = resumed_from_;
  return m;
}

checkpoint::OptimizerTensors Trainer::optimizer_tensors() const { return optimizer_->state(); }

}  // namespace glm::train
