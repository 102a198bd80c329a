// The trainer's set-up, its loop (logging, evaluation, stop signals, periodic saves) and
// evaluation. The step is in train/step.cpp, saving and loading in
// train/trainer_checkpoint.cpp.
#include "train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <utility>
#include <nlohmann/json.hpp>

#include "config/layout.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/heartbeat.h"
#include "core/test_hold.h"
#include "data/text_bytes.h"
#include "model/init.h"
#include "modeldef/precision.h"
#include "optim/training_health.h"
#include "train/device_peak.h"
#include "train/device_policy.h"
#include "train/pipeline_runner.h"
#include "train/signals.h"
#include "train/stop_consensus.h"
#include "core/cuda_device.h"

namespace glm::train {

model::ModelOptions model_options(const config::RunConfig& rc) {
  model::ModelOptions o;
  o.precision = rc.train.precision_mode();
  o.recompute = rc.train.recompute == "full" ? model::Recompute::full : model::Recompute::none;
  o.seed = static_cast<std::uint64_t>(rc.train.seed);
  // (the CUDA device index is the trainer's to choose: one GPU per rank)
  o.device = rc.train.device == "cuda" ? Device::cuda() : Device::cpu();
  return o;
}

double EvalResult::perplexity() const { return std::exp(std::min(loss, 50.0)); }
double EvalResult::bits_per_byte() const {
  return data::bits_per_byte(loss * static_cast<double>(tokens), static_cast<double>(bytes));
}

Trainer::Trainer(const config::RunConfig& config, const TrainerOptions& options)
    : config_(config),
      options_(options),
      tokenizer_(run_tokenizer(config)),
      text_bytes_per_id_(tokenizer_.text_bytes_per_id()),
      scaler_(optim::loss_scaler_config(
          config.optim, modeldef::precision_policy(config.train.precision_mode()).loss_scaling)),
      spike_guard_(config.spike_guard),
      divergence_(config.spike_guard.recovery) {
  const auto& mc = config_.model;
  check_vocabulary(config_, tokenizer_);
  const int mb = config_.train.micro_batch_size, D = dp_size(), P = pp_size();
  config::check_batch_layout(config_, mb, D, P);
  const modeldef::ModelShard shard = shard_of(tp_rank(), pp_rank());
  shard.validate(mc, fmt::format("{} with tp {} pp {}", config_.source, tp_size(), P));
  data_ = open_training_data(config_, tokenizer_);

  // Initialise in fp32, keep that as the master copy, then round the model's weights.
  model::ModelOptions mo = model_options(config_);
  mo.shard = shard;
  mo.tp = tp();
  // (the CUDA runtime is asked only by a CUDA run; glm-train picked this rank's GPU)
  const bool cuda = config_.train.device == "cuda";
  mo.device = training_device(config_, world(), built_with_cuda(), cuda ? cuda_device_count() : 0,
                              cuda ? current_cuda_device() : 0);
  if (config_.parallel.zero && dp_size() > 1)  // the reduce-scatter works on the buffer in place
    mo.flat_capacity =
        parallel::ShardPlan(modeldef::ParamLayout(mc, shard).total(), dp_size()).padded;
  model_ = std::make_unique<model::GLMModel>(mc, mo);
  model_->set_find_nonfinite(options_.debug_nonfinite);
  const modeldef::Precision precision = config_.train.precision_mode();
  const modeldef::PrecisionPolicy policy = modeldef::precision_policy(precision);
  const auto seed = static_cast<std::uint64_t>(config_.train.seed);
  const optim::ShardingOptions sharding{.dp = dp(), .zero = config_.parallel.zero};
  auto layout = model_->params().shared_layout();
  if (model_->params().dtype() == DType::f32) {
    model::deepnorm_init(model_->params(), seed);
    optimizer_ = std::make_unique<optim::ShardedOptimizer>(layout, optim::adamw_config(config_.optim),
                                                           model_->params().padded(), sharding);
  } else {
    // The fp32 draw becomes the master weights; the model's 16-bit buffer holds it rounded.
    modeldef::FlatParams initial(layout, mo.device);
    model::deepnorm_init(initial, seed);
    model_->set_params(initial.flat());
    optimizer_ = std::make_unique<optim::ShardedOptimizer>(
        layout, optim::adamw_config(config_.optim), model_->params().padded(), sharding, &initial.flat());
  }
  metrics_ = std::make_unique<MetricsLog>(world_rank() == 0 ? options_.log_dir : std::string(),
                                          config_.train.train_iters);
  const PeakFlops peak = rank_peak_flops(mo.device, precision);
  peak_flops_ = peak.flops;

  spdlog::info("model: {} parameters, N={} h={} a={} f={} V={} T={}, {} {}",
               mc.num_parameters(), mc.num_layers, mc.hidden_size, mc.num_heads,
               mc.ffn_hidden_size, mc.vocab_size, mc.seq_length, config_.train.precision,
               config_.train.recompute == "full" ? "recompute" : "no recompute");
  for (int d = 0; d < data_.train->num_datasets(); ++d)
    spdlog::info("data{}: {} train windows, {} held-out windows of {} tokens ({}{})",
                 data_.names.size() > 1 ? fmt::format(" '{}'", data_.names[d]) : "",
                 data_.train->num_windows(d), data_.valid[d]->num_windows(), mc.seq_length,
                 data_.train->blend().sources()[d].path,
                 data_.names.size() > 1
                     ? fmt::format(", weight {:g} of the blend",
                                   data_.train->blend().weights_at(0)[d])
                     : "");
  spdlog::info("device: {}; peak {:.0f} GFLOP/s per rank (MFU is against it: {}); layout dp "
               "{} x tp {} x pp {}{}, this rank: layers [{}, {}){}{}",
               describe_training_device(mo.device), peak_flops_ / 1e9, peak.basis, D,
               tp_size(), P, optimizer_->sharded() ? " with ZeRO-1" : "", shard.first_layer,
               shard.end_layer(mc), shard.has_embedding ? " + embedding" : "",
               shard.has_head ? " + head" : "");
  spdlog::info(
      "precision: {}: activations stored as {}, parameters stored as {}, fp32 master "
      "weights and moments{}, loss scaling {}; GEMMs: {}",
      modeldef::precision_name(precision), dtype_name(policy.activations),
      dtype_name(policy.params), policy.separate_master() ? "" : " (the parameters)",
      policy.loss_scaling ? "dynamic" : "off", describe_gemms(mo.device, precision));
  metrics_->log_event({{"event", "start"}, {"config", config_.to_json()},
                       {"parameters", mc.num_parameters()}, {"peak_flops", peak_flops_}});
  metrics_->log_config(state_.step, config_.to_json());
}

Trainer::~Trainer() = default;

void Trainer::dp_sum(std::span<double> values) const {
  if (dp() && dp()->size() > 1) dp()->all_reduce_sum(values);
}

void Trainer::world_sum(std::span<double> values) const {
  if (world() && world()->size() > 1) world()->all_reduce_sum(values);
}

modeldef::ModelShard Trainer::shard_of(int t, int stage) const {
  return config::shard_for(config_.model, layout(), t, stage);
}

config::ParallelConfig Trainer::layout() const {
  config::ParallelConfig p = config_.parallel;
  p.dp = dp_size();
  p.tp = tp_size();
  p.pp = pp_size();
  p.zero = optimizer_ && optimizer_->sharded();
  return p;
}

EvalResult Trainer::evaluate() {
  heartbeat(Phase::evaluation);
  EvalResult e;
  const int mb = config_.train.micro_batch_size;
  const std::size_t D = data_.valid.size();
  // Every DP slice evaluates the same batches: one last-stage rank reports them.
  const bool reports = model_->last_stage() && tp_rank() == 0 && dp_rank() == 0;
  std::vector<double> totals(3 * D, 0.0);  // per dataset: loss sum, targets, text bytes
  for (std::size_t d = 0; d < D; ++d)
    for (int i = 0; i < config_.train.eval_iters; ++i) {
      modeldef::Batch b = data_.valid[d]->micro_batch(std::int64_t{i} * mb, mb);
      const double bytes = static_cast<double>(data::target_text_bytes(b, text_bytes_per_id_));
      PipelineStats s = run_pipeline_forward(*model_, pp(), b);
      if (!reports) continue;
      totals[3 * d] += s.loss_sum;
      totals[3 * d + 1] += static_cast<double>(s.num_targets);
      totals[3 * d + 2] += bytes;
    }
  world_sum(totals);
  double sum = 0;
  for (std::size_t d = 0; d < D; ++d) {
    EvalResult::Dataset r{data_.names[d], std::nan(""),
                          static_cast<std::int64_t>(totals[3 * d + 1]),
                          static_cast<std::int64_t>(totals[3 * d + 2])};
    if (r.tokens > 0) r.loss = totals[3 * d] / totals[3 * d + 1];
    sum += totals[3 * d];
    e.tokens += r.tokens;
    e.bytes += r.bytes;
    e.datasets.push_back(std::move(r));
  }
  e.loss = e.tokens > 0 ? sum / static_cast<double>(e.tokens) : std::nan("");
  return e;
}

// Test hook of the fault suite (tests/faults): GLM_TEST_STALL_AT_STEP=N:R makes rank R stop
// making progress (sleep, for ever) when step N begins.
void Trainer::stall_if_testing(std::int64_t step) const {
  static const char* at = std::getenv("GLM_TEST_STALL_AT_STEP");
  if (at && fmt::format("{}:{}", step, world_rank()) == at) {
    spdlog::warn("GLM_TEST_STALL_AT_STEP={}: stalling", at);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// Test hook of the fault suite (tests/faults): GLM_TEST_CRASH_AT_STEP=N makes rank 0 exit
// with status 137, as if killed, right after step N, every time a run reaches it.
void Trainer::crash_if_testing(std::int64_t step) const {
  static const char* at = std::getenv("GLM_TEST_CRASH_AT_STEP");
  if (at && world_rank() == 0 && std::to_string(step) == at) {
    spdlog::warn("GLM_TEST_CRASH_AT_STEP={}: exiting as if killed", at);
    std::_Exit(137);
  }
}

void Trainer::log_eval(const EvalResult& e) {
  std::vector<EvalDataset> per;
  if (e.datasets.size() > 1)
    for (const EvalResult::Dataset& d : e.datasets)
      per.push_back({d.name, d.loss, d.tokens,
                     data::bits_per_byte(d.loss * static_cast<double>(d.tokens),
                                         static_cast<double>(d.bytes))});
  metrics_->log_eval(state_.step, e.loss, e.tokens, e.bits_per_byte(), per);
}

std::pair<EvalResult, EvalResult> Trainer::run() {
  const auto& tc = config_.train;
  hold_if_testing("before_run", state_.step, [] { return stop_signals_received() != 0; });
  // a signal that arrived before training began (agreed: one rank may have it alone)
  if ((stop_signals_ = agree_stop_signals(stop_signals_received(), world()))) {
    stop_with_checkpoint();
    return {};
  }
  EvalResult before = evaluate(), after = before;
  log_eval(before);
  double interval_loss = 0, interval_s = 0, interval_norm = 0, interval_flops = 0;
  std::int64_t interval_steps = 0, interval_accepted = 0, interval_tokens = 0;
  if (options_.comm_log)
    comm_log_ = std::make_unique<CommLog>(options_.log_dir, world_rank(), options_.groups);
  while (state_.step < tc.train_iters) {
    if (comm_log_) comm_log_->begin_step();
    StepResult r = train_step();
    if (comm_log_) comm_log_->end_step(state_.step, r.head_rows, r.seconds, r.compute_seconds);
    ++interval_steps;
    interval_s += r.seconds;
    interval_tokens += r.tokens;
    interval_flops += r.model_flops;
    if (!r.skipped) {
      ++interval_accepted;
      interval_loss += r.loss;
      interval_norm += r.grad_norm;
    }
    const bool last = state_.step == tc.train_iters;
    if (state_.step % tc.log_interval == 0 || last) {
      StepMetrics m;
      m.step = state_.step;
      m.consumed_samples = state_.consumed_samples;
      m.loss = interval_accepted ? interval_loss / interval_accepted : std::nan("");
      m.grad_norm = interval_accepted ? interval_norm / interval_accepted : std::nan("");
      m.lr = r.lr;
      m.loss_scale = scaler_.scale();
      m.skipped = state_.skipped_steps;
      m.tokens_per_s = interval_tokens / interval_s;
      m.step_ms = 1e3 * interval_s / interval_steps;
      const double flops = interval_flops / interval_s;
      m.tflops = flops / 1e12;
      m.mfu = peak_flops_ > 0 ? flops / (peak_flops_ * world_size()) : std::nan("");
      const MemoryStats mem = memory_stats(model_->options().device.kind);
      m.memory_gb = mem.peak / 1e9;
      for (int k = 0; k < kMemoryKinds; ++k) m.memory_gb_by[k] = mem.peak_by[k] / 1e9;
      m.global_batch = static_cast<int>(r.global_batch);
      for (std::size_t g = 0; g < r.group_grad_norm.size(); ++g) {
        const std::string name = optim::health_group_name(config_.model, static_cast<int>(g));
        m.grad_norm_by_group.emplace_back(name, r.group_grad_norm[g]);
        m.update_ratio_by_group.emplace_back(name, r.group_update_ratio[g]);
      }
      if (!r.group_grad_norm.empty()) m.max_attention_logit = r.max_attention_logit;
      const std::vector<std::int64_t> taken =
          data_.train->samples_per_dataset(state_.consumed_samples);
      for (std::size_t d = 0; d < taken.size(); ++d)
        m.dataset_samples.emplace_back(data_.names[d], taken[d]);
      metrics_->log_step(m);
      interval_loss = interval_s = interval_norm = interval_flops = 0;
      interval_steps = interval_accepted = interval_tokens = 0;
    }
    // Back to an earlier step: nothing of this one to evaluate or save.
    if (pending_recovery_ && recover_from_spike(*std::exchange(pending_recovery_, std::nullopt))) {
      interval_loss = interval_s = interval_norm = interval_flops = 0;
      interval_steps = interval_accepted = interval_tokens = 0;
      continue;
    }
    crash_if_testing(state_.step);
    hold_if_testing("after_step", state_.step, [] { return stop_signals_received() != 0; });
    // A stop signal that arrived during the step: finish here with a checkpoint, at the
    // same step on every rank.
    stop_signals_ = agree_stop_signals(stop_signals_received(), world());
    if (!stop_signals_ && ((tc.eval_interval > 0 && state_.step % tc.eval_interval == 0) || last)) {
      after = evaluate();
      log_eval(after);
    }
    if (stop_signals_) {
      stop_with_checkpoint();
      break;
    }
    const bool periodic = tc.save_interval > 0 && state_.step % tc.save_interval == 0;
    if (!tc.save_dir.empty() && (periodic || last)) save_as_configured(tc.save_dir);
    poll_background_save();
  }
  finish_background_save();
  return {before, after};
}

}  // namespace glm::train
