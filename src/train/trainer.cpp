#include "train/trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "config/layout.h"
#include "config/resume_check.h"
#include "core/allocator.h"
#include "core/cpu_info.h"
#include "core/error.h"
#include "kernels/elementwise.h"
#include "model/init.h"
#include "optim/grad_clip.h"
#include "optim/lr_schedule.h"
#include "parallel/data_parallel.h"
#include "parallel/pipeline_schedule.h"
#include "parallel/tensor_span.h"
#include "train/device_peak.h"
#include "train/device_policy.h"
#include "train/grad_reduce.h"
#include "train/pipeline_runner.h"
#include "train/signals.h"

namespace glm::train {
namespace {

constexpr std::uint64_t kEvalSeedSalt = 0x6576616CULL;  // "eval": held-out order and masks

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Checkpoint files are written from and read into host memory.
checkpoint::OptimizerTensors on_host(const checkpoint::OptimizerTensors& t) {
  if (t.master.device().is_cpu()) return t;
  return {t.layout, t.master.to(Device::cpu()), t.exp_avg.to(Device::cpu()),
          t.exp_avg_sq.to(Device::cpu())};
}

}  // namespace

double EvalResult::perplexity() const { return std::exp(std::min(loss, 50.0)); }

Trainer::Trainer(const config::RunConfig& config, const TrainerOptions& options)
    : config_(config),
      options_(options),
      tokenizer_(data::load_tokenizer(config.train.data_dir)),
      scaler_(config.optim.loss_scaler(config.train.precision_mode() == model::Precision::fp16)),
      spike_guard_(config.spike_guard) {
  const auto& mc = config_.model;
  if (mc.vocab_size < tokenizer_.vocab_size())
    throw InputError(fmt::format(
        "{}: model.vocab_size {} is smaller than the tokenizer's vocabulary {} ({})",
        config_.source, mc.vocab_size, tokenizer_.vocab_size(), tokenizer_.name()));

  const int mb = config_.train.micro_batch_size, D = dp_size(), P = pp_size();
  config::check_batch_layout(config_, mb, D, P);
  const model::ModelShard shard = shard_of(tp_rank(), pp_rank());
  shard.validate(mc, fmt::format("{} with tp {} pp {}", config_.source, tp_size(), P));

  const std::uint64_t seed = static_cast<std::uint64_t>(config_.train.seed);
  train_data_ = std::make_unique<data::DataPipeline>(config_.train.data_dir, "train", tokenizer_,
                                               config_.objective, mc.seq_length, seed);
  valid_data_ = std::make_unique<data::DataPipeline>(config_.train.data_dir, "valid", tokenizer_,
                                               config_.objective, mc.seq_length,
                                               seed ^ kEvalSeedSalt);

  // Initialise in fp32, keep that as the master copy, then round the model's weights.
  model::ModelOptions mo = config_.model_options();
  mo.shard = shard;
  mo.tp = tp();
  // (the CUDA runtime is asked only by a CUDA run; glm-train picked this rank's GPU)
  const bool cuda = config_.train.device == "cuda";
  mo.device = training_device(config_, world(), built_with_cuda(), cuda ? cuda_device_count() : 0,
                              cuda ? current_cuda_device() : 0);
  model_ = std::make_unique<model::GLMModel>(mc, mo);
  model::deepnorm_init(model_->params(), seed);
  auto layout = std::make_shared<const model::ParamLayout>(model_->layout());
  optim::ElementRange range = optim::full_range(*layout);
  if (config_.parallel.zero && D > 1) {
    zero_ = std::make_unique<ShardedUpdate>(*dp(), layout->total(), mo.device);
    range = zero_->range();
  }
  Tensor own = model_->params().flat().slice(0, range.begin, range.end);
  if (config_.train.precision_mode() == model::Precision::fp16) {
    master_ = own.clone();
    model_->round_params_to_precision();
  } else {
    master_ = own;  // AdamW updates the model's weights (or this rank's shard) in place
  }
  adamw_ = std::make_unique<optim::AdamW>(layout, config_.optim.adamw(), range, master_);
  metrics_ = std::make_unique<MetricsLog>(world_rank() == 0 ? options_.log_dir : std::string(),
                                          config_.train.train_iters);
  const bool fp16 = config_.train.precision_mode() == model::Precision::fp16;
  const std::string where =
      mo.device.is_cuda()
          ? fmt::format("CUDA device {} ({})", mo.device.index, cuda_device_name(mo.device.index))
          : fmt::format("CPU, {} threads, {}", omp_get_max_threads(), cpu_isa());
  peak_flops_ = peak_flops_override(
      mo.device.is_cuda() ? cuda_peak_flops(cuda_device_name(mo.device.index), fp16)
                          : measure_fma_peak_flops(omp_get_max_threads()));

  spdlog::info("model: {} parameters, N={} h={} a={} f={} V={} T={}, {} {}",
               mc.num_parameters(), mc.num_layers, mc.hidden_size, mc.num_heads,
               mc.ffn_hidden_size, mc.vocab_size, mc.seq_length, config_.train.precision,
               config_.train.recompute == "full" ? "recompute" : "no recompute");
  spdlog::info("data: {} train windows, {} held-out windows of {} tokens ({})",
               train_data_->num_windows(), valid_data_->num_windows(), mc.seq_length,
               config_.train.data_dir);
  spdlog::info("device: {}; peak {:.0f} GFLOP/s per rank (MFU is against it{}); layout dp {} x "
               "tp {} x pp {}{}, this rank: layers [{}, {}){}{}",
               where, peak_flops_ / 1e9,
               mo.device.is_cuda() ? (fp16 ? ": fp16 tensor cores" : ": fp32, no TF32") : "", D,
               tp_size(), P,
               zero_ ? " with ZeRO-1" : "", shard.first_layer,
               shard.end_layer(mc), shard.has_embedding ? " + embedding" : "",
               shard.has_head ? " + head" : "");
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

std::vector<Trainer::GroupTraffic> Trainer::comm_traffic() const {
  std::vector<GroupTraffic> out;
  if (!options_.groups) return out;
  const auto& g = *options_.groups;
  for (const parallel::Communicator* c : {g.tp.get(), g.dp.get(), g.pp.get(), g.embedding.get(),
                                          g.world.get()})
    if (c) out.push_back({c->name(), c->stats().total_bytes_sent(), c->stats().seconds});
  return out;
}

model::ModelShard Trainer::shard_of(int t, int stage) const {
  return config::shard_for(config_.model, layout(), t, stage);
}

config::ParallelConfig Trainer::layout() const {
  config::ParallelConfig p = config_.parallel;
  p.dp = dp_size();
  p.tp = tp_size();
  p.pp = pp_size();
  p.zero = zero_ != nullptr;
  return p;
}

StepResult Trainer::train_step() {
  auto t0 = std::chrono::steady_clock::now();
  StepResult r;
  const int mb = config_.train.micro_batch_size;
  skip_sample_ranges();
  r.global_batch = optim::global_batch_size(config_.batch, state_.consumed_samples);
  r.lr = optim::learning_rate(config_.optim, state_.consumed_samples);
  r.tokens = r.global_batch * config_.model.seq_length;
  for (const auto& range : config_.resume.skip_iters) {
    if (!range.contains(state_.step)) continue;
    // resume.skip_iters: the step consumes its batch without training.
    r.skipped = true;
    r.skip_reason = "resume.skip_iters";
    r.loss = r.grad_norm = std::nan("");
    spdlog::warn("step {} skipped: resume.skip_iters [{}, {}): samples {}..{} not trained on",
                 state_.step, range.begin, range.end, state_.consumed_samples,
                 state_.consumed_samples + r.global_batch - 1);
    ++state_.skipped_steps;
    state_.consumed_samples += r.global_batch;
    ++state_.step;
    r.seconds = seconds_since(t0);
    return r;
  }

  // This rank's slice of the global batch is collated first: the loss is normalised by the
  // target count of the whole global batch (summed over the DP group).
  const std::int64_t local = r.global_batch / dp_size();
  const std::int64_t slice_start = state_.consumed_samples + dp_rank() * local;
  std::vector<model::Batch> batches;
  double counts[1] = {0};
  for (std::int64_t first = 0; first < local; first += mb) {
    batches.push_back(train_data_->micro_batch(slice_start + first, mb));
    counts[0] += static_cast<double>(batches.back().num_targets());
  }
  dp_sum(counts);
  const auto targets = static_cast<std::int64_t>(counts[0]);
  const float scale = static_cast<float>(scaler_.scale());
  model_->zero_grads();
  // Data parallel without ZeRO-1: every rank's gradients (already divided by the global
  // target count) are summed layer by layer during the last backward (train/grad_reduce.h),
  // so all ranks hold the gradient of the whole global batch.
  std::optional<LayerwiseGradReduce> reduce;
  if (!zero_ && dp_size() > 1) reduce.emplace(*dp(), model_->layout(), model_->grads().flat());
  model::StepOptions step_opt{.loss_scale = scale, .num_targets = targets,
                              .step = static_cast<std::uint32_t>(state_.step), .training = true};
  step_opt.embedding_grad_shrink =
      static_cast<float>(optim::egs_alpha(config_.egs_schedule, state_.step));
  if (reduce) step_opt.on_layer_grads = [&reduce](int layer) { reduce->layer_done(layer); };
  // Forward and backward of every micro-batch through this rank's stage (1F1B under PP).
  const PipelineStats ps = run_pipeline_step(*model_, pp(), batches, step_opt);
  r.compute_seconds = ps.compute_s;
  r.pipeline_comm_seconds = ps.comm_s;
  r.head_rows = ps.num_targets;

  // The tied embedding: the first stage's copy and the last stage's receive gradients from
  // the input lookup and the head respectively; both must apply their sum.
  parallel::Communicator* emb = options_.groups ? options_.groups->embedding.get() : nullptr;
  if (emb && emb->size() > 1) {
    Tensor gE = model_->grads().embedding();
    emb->all_reduce_sum(parallel::floats(*emb, gE));
  }

  // Data parallel: the ranges no layer covers, then wait for every layer's (see above).
  // With ZeRO-1 the gradients are reduce-scattered instead: this rank holds its shard's sum.
  Tensor& full_grads = model_->grads().flat();
  Tensor grads = full_grads;
  optim::ElementRange range = optim::full_range(model_->layout());
  if (zero_) {
    zero_->reduce_grads(full_grads);
    grads = zero_->shard_grads();
    range = zero_->range();
  } else if (reduce) {
    reduce->finish();
  }

  // One reduction over every rank agrees on the loss, the overflow verdict and the global
  // gradient norm: the loss from the last stages' TP rank 0 (one per DP slice), the squares
  // from each parameter's primary piece, counted once (under ZeRO-1 by its shard's owner,
  // else by DP rank 0).
  const bool counts_loss = model_->last_stage() && tp_rank() == 0;
  const bool counts_norm = zero_ || dp_rank() == 0;
  double step_stats[3] = {counts_loss ? ps.loss_sum : 0.0,
                          kernels::all_finite(grads) ? 0.0 : 1.0,
                          counts_norm ? optim::primary_sum_squares(model_->layout(), grads, range)
                                      : 0.0};
  world_sum(step_stats);
  r.loss = step_stats[0] / static_cast<double>(std::max<std::int64_t>(1, targets));
  const bool found_inf = step_stats[1] > 0;
  r.skipped = scaler_.dynamic() ? scaler_.update(found_inf) : found_inf;
  r.grad_norm = std::nan("");
  if (r.skipped) r.skip_reason = "inf/nan gradients";
  if (!r.skipped) {
    r.grad_norm = std::sqrt(step_stats[2]) / scale;
    if (spike_guard_.config().enabled && spike_guard_.check(r.loss, r.grad_norm)) {
      r.skipped = true;
      r.skip_reason = fmt::format("spike guard: {} (z {:.1f})",
                                  optim::to_string(spike_guard_.last_reason()), spike_guard_.last_z());
    }
  }
  if (!r.skipped) {
    const double clip = config_.optim.clip_grad > 0
                            ? optim::clip_coefficient(r.grad_norm, config_.optim.clip_grad)
                            : 1.0;
    adamw_->step(grads, r.lr, static_cast<float>(clip / scale));
    refresh_params();
  } else {
    ++state_.skipped_steps;
    spdlog::warn("step {} skipped: {} (loss scale now {:g})", state_.step, r.skip_reason,
                 scaler_.scale());
    if (spike_guard_.should_rollback())
      spdlog::warn("spike guard: {} guarded steps in a row; rolling back needs a checkpoint "
                   "(--save), continuing", spike_guard_.consecutive_flagged());
  }
  if (scaler_.dynamic() && scaler_.collapsing())
    spdlog::warn("loss scale has collapsed to {:g}: a warning sign of divergence", scaler_.scale());
  state_.consumed_samples += r.global_batch;
  ++state_.step;
  if (model_->options().device.is_cuda()) cuda_synchronize();  // the step's time is its work
  r.seconds = seconds_since(t0);
  return r;
}

EvalResult Trainer::evaluate() {
  EvalResult e;
  const int mb = config_.train.micro_batch_size;
  double sum = 0;
  for (int i = 0; i < config_.train.eval_iters; ++i) {
    model::Batch b = valid_data_->micro_batch(std::int64_t{i} * mb, mb);
    PipelineStats s = run_pipeline_forward(*model_, pp(), b);
    sum += s.loss_sum;
    e.tokens += s.num_targets;
  }
  // Every DP slice evaluates the same batches: one last-stage rank reports them.
  const bool reports = model_->last_stage() && tp_rank() == 0 && dp_rank() == 0;
  double totals[2] = {reports ? sum : 0.0, reports ? static_cast<double>(e.tokens) : 0.0};
  world_sum(totals);
  e.tokens = static_cast<std::int64_t>(totals[1]);
  e.loss = e.tokens > 0 ? totals[0] / totals[1] : std::nan("");
  return e;
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

StopSignals Trainer::agreed_stop_signals() const {
  StopSignals s = stop_signals_received();
  if (world_size() == 1) return s;
  double got[3] = {};  // how many ranks received each signal
  for (int b = 0; b < 3; ++b) got[b] = (s >> b) & 1u;
  world_sum(got);
  for (int b = 0; b < 3; ++b)
    if (got[b] > 0) s |= 1u << b;
  return s;
}

std::pair<EvalResult, EvalResult> Trainer::run() {
  const auto& tc = config_.train;
  if ((stop_signals_ = agreed_stop_signals())) {  // arrived before training began
    stop_with_checkpoint();
    return {};
  }
  EvalResult before = evaluate(), after = before;
  metrics_->log_eval(state_.step, before.loss, before.tokens);
  double interval_loss = 0, interval_s = 0, interval_norm = 0;
  std::int64_t interval_steps = 0, interval_accepted = 0, interval_tokens = 0;
  if (options_.comm_log) {
    const auto path = std::filesystem::path(options_.log_dir) /
                      fmt::format("comm_rank_{:05d}.jsonl", world_rank());
    std::filesystem::create_directories(path.parent_path());
    comm_log_ = std::make_unique<std::ofstream>(path, std::ios::app);
  }
  while (state_.step < tc.train_iters) {
    const auto before = comm_traffic();
    StepResult r = train_step();
    if (comm_log_) {
      nlohmann::json bytes = nlohmann::json::object(), secs = nlohmann::json::object();
      const auto after = comm_traffic();
      for (std::size_t g = 0; g < after.size(); ++g) {
        bytes[after[g].group] = after[g].bytes - before[g].bytes;
        secs[after[g].group] = after[g].seconds - before[g].seconds;
      }
      *comm_log_ << nlohmann::json{{"step", state_.step}, {"head_rows", r.head_rows},
                                   {"step_s", r.seconds}, {"compute_s", r.compute_seconds},
                                   {"bytes", bytes}, {"comm_s", secs}}.dump()
                 << '\n' << std::flush;
    }
    ++interval_steps;
    interval_s += r.seconds;
    interval_tokens += r.tokens;
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
      const double flops = 3.0 * config_.model.forward_flops_per_token() * m.tokens_per_s;
      m.tflops = flops / 1e12;
      m.mfu = peak_flops_ > 0 ? flops / (peak_flops_ * world_size()) : std::nan("");
      m.memory_gb = memory_stats(model_->options().device.kind).peak / 1e9;
      m.global_batch = static_cast<int>(r.global_batch);
      metrics_->log_step(m);
      interval_loss = interval_s = interval_norm = 0;
      interval_steps = interval_accepted = interval_tokens = 0;
    }
    crash_if_testing(state_.step);
    // A stop signal that arrived during the step: finish here with a checkpoint. Every rank
    // must stop at the same step, so the ranks agree on it.
    stop_signals_ = agreed_stop_signals();
    if (!stop_signals_ && ((tc.eval_interval > 0 && state_.step % tc.eval_interval == 0) || last)) {
      after = evaluate();
      metrics_->log_eval(state_.step, after.loss, after.tokens);
    }
    if (stop_signals_) {
      stop_with_checkpoint();
      break;
    }
    const bool periodic = tc.save_interval > 0 && state_.step % tc.save_interval == 0;
    if (!tc.save_dir.empty() && (periodic || last)) save(tc.save_dir);
  }
  return {before, after};
}

void Trainer::stop_with_checkpoint() {
  const auto& dir = config_.train.save_dir;
  if (!dir.empty()) save(dir);
  spdlog::warn("{} received: stopped after step {}{}", stop_signals_name(stop_signals_), state_.step,
               dir.empty() ? " without a checkpoint (no train.save_dir / --save)" : "");
  metrics_->log_event({{"event", "stop"}, {"signals", stop_signals_name(stop_signals_)}, {"step", state_.step}});
}

checkpoint::SaveResult Trainer::save(const std::string& save_root) {
  // DP ranks of one TP x PP position hold identical state (ZeRO-1 shards are gathered
  // first, by every rank of the DP group): DP rank 0 of each position writes its pieces.
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
    if (world_rank() == 0) spdlog::info("checkpoint of step {} already in {}", state_.step, save_root);
    return {existing.string(), 0, 0, {}};
  }
  const checkpoint::OptimizerTensors tensors = on_host(optimizer_tensors());
  checkpoint::SaveResult r;
  if (world_size() == 1) {
    r = checkpoint::save_checkpoint(save_root, checkpoint_meta(), tensors, config_.train.keep_last);
  } else {
    checkpoint::CollectiveSave group{world(), world_rank(), dp_rank() == 0,
                                     checkpoint::checkpoint_writers(config_.model, layout())};
    r = checkpoint::save_checkpoint_collective(save_root, checkpoint_meta(), tensors,
                                               config_.train.keep_last, group);
  }
  checkpoint_step_ = state_.step;
  if (world_rank() != 0) return r;
  spdlog::info("saved checkpoint {} (step {}, {:.1f} MB) in {:.2f} s ({:.0f} MB/s)", r.dir,
               state_.step, r.bytes / 1e6, r.seconds, r.bytes / 1e6 / std::max(r.seconds, 1e-9));
  for (const auto& d : r.pruned) spdlog::info("removed old checkpoint {} (keep_last {})", d,
                                              config_.train.keep_last);
  metrics_->log_event({{"event", "save"}, {"step", state_.step}, {"dir", r.dir},
                       {"bytes", r.bytes}, {"seconds", r.seconds}});
  return r;
}

void Trainer::load(const std::string& dir, std::optional<std::int64_t> iter) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = checkpoint::resolve_checkpoint_dir(dir, iter);
  const std::string meta_path = (std::filesystem::path(path) / checkpoint::kMetaFile).string();
  checkpoint::CheckpointMeta meta = checkpoint::read_checkpoint_meta(path);
  checkpoint::verify_checkpoint_files(path, meta);
  std::vector<std::string> notes;
  config::RunConfig rc = config::reconcile_resume_config(config_, meta.config, meta_path, notes);
  const checkpoint::CheckpointLayout here = checkpoint_meta().layout;
  if (meta.layout != here)
    notes.push_back(fmt::format("re-cut from layout dp {} tp {} pp {}{} ({} ranks) to dp {} tp {} "
                                "pp {}{}",
                                meta.layout.dp, meta.layout.tp, meta.layout.pp,
                                meta.layout.zero ? " zero" : "", meta.layout.world_size, here.dp,
                                here.tp, here.pp, here.zero ? " zero" : ""));

  if (zero_) {
    // The checkpoint holds whole pieces: load this rank's, keep its ZeRO-1 shard.
    const auto& layout = model_->layout();
    checkpoint::OptimizerTensors full{&layout, Tensor::empty({layout.total()}, DType::f32),
                          Tensor::empty({layout.total()}, DType::f32),
                          Tensor::empty({layout.total()}, DType::f32)};
    checkpoint::load_optimizer_tensors(path, meta, full);
    const auto range = zero_->range();
    adamw_->master().copy_from(full.master.slice(0, range.begin, range.end));
    adamw_->exp_avg().copy_from(full.exp_avg.slice(0, range.begin, range.end));
    adamw_->exp_avg_sq().copy_from(full.exp_avg_sq.slice(0, range.begin, range.end));
  } else if (adamw_->master().device().is_cpu()) {
    checkpoint::load_optimizer_tensors(path, meta, optimizer_tensors());
  } else {
    checkpoint::OptimizerTensors host = on_host(optimizer_tensors());
    checkpoint::load_optimizer_tensors(path, meta, host);
    adamw_->master().copy_from(host.master);
    adamw_->exp_avg().copy_from(host.exp_avg);
    adamw_->exp_avg_sq().copy_from(host.exp_avg_sq);
  }
  adamw_->set_step_count(meta.adamw_steps);
  scaler_.load_state(meta.loss_scaler);
  spike_guard_.load_state(meta.spike_guard);
  state_ = {meta.step, meta.consumed_samples, meta.skipped_steps};
  checkpoint_step_ = meta.step;
  refresh_params();  // as after a step
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
  const double seconds = seconds_since(t0);
  const std::int64_t bytes = meta.total_bytes();
  spdlog::info("loaded checkpoint {} (step {}, {} samples consumed, {:.1f} MB) in {:.2f} s",
               path, meta.step, meta.consumed_samples, bytes / 1e6, seconds);
  metrics_->log_event({{"event", "load"}, {"step", meta.step}, {"dir", path}, {"bytes", bytes},
                       {"seconds", seconds}, {"notes", notes}});
}

checkpoint::CheckpointMeta Trainer::checkpoint_meta() const {
  checkpoint::CheckpointMeta m;
  m.step = state_.step;
  m.consumed_samples = state_.consumed_samples;
  m.skipped_steps = state_.skipped_steps;
  m.adamw_steps = adamw_->step_count();
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
  m.layout = {world_size(), dp_size(), tp_size(), pp_size(), zero_ ? 1 : 0};
  return m;
}

checkpoint::OptimizerTensors Trainer::optimizer_tensors() const {
  if (!zero_) return {&model_->layout(), adamw_->master(), adamw_->exp_avg(), adamw_->exp_avg_sq()};
  // ZeRO-1: whole tensors gathered from every rank's shard (a collective: all ranks call it).
  const std::int64_t total = model_->layout().total();
  checkpoint::OptimizerTensors t{&model_->layout(), Tensor::empty({total}, DType::f32),
                     Tensor::empty({total}, DType::f32), Tensor::empty({total}, DType::f32)};
  zero_->gather(adamw_->master(), t.master);
  zero_->gather(adamw_->exp_avg(), t.exp_avg);
  zero_->gather(adamw_->exp_avg_sq(), t.exp_avg_sq);
  return t;
}

void Trainer::refresh_params() {
  const bool fp16 = config_.train.precision_mode() == model::Precision::fp16;
  if (zero_) {
    // fp32: this rank's shard is already in place; the gather brings everyone else's.
    zero_->gather(master_, model_->params().flat());
  } else if (fp16) {
    model_->params().flat().copy_from(master_);
  }
  if (fp16) model_->round_params_to_precision();
}

// resume.skip_samples: a batch that would overlap a skipped range starts after it instead.
void Trainer::skip_sample_ranges() {
  for (bool moved = true; moved;) {
    moved = false;
    const std::int64_t c = state_.consumed_samples;
    const std::int64_t B = optim::global_batch_size(config_.batch, c);
    for (const auto& range : config_.resume.skip_samples) {
      if (c < range.end && range.begin < c + B) {
        spdlog::warn("step {}: skipping samples {}..{} (resume.skip_samples [{}, {}))",
                     state_.step, c, range.end - 1, range.begin, range.end);
        state_.consumed_samples = range.end;
        moved = true;
        break;
      }
    }
  }
}

}  // namespace glm::train
