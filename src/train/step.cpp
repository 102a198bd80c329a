// One optimizer step of the trainer (trainer.h): the global batch's micro-batches through
// this rank's stage, the gradient reductions, the overflow / norm / spike checks and the
// update; and the data skips of resume.skip_iters and resume.skip_samples.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <cmath>
#include <optional>

#include <spdlog/spdlog.h>

#include "kernels/elementwise.h"
#include "optim/grad_clip.h"
#include "optim/lr_schedule.h"
#include "optim/training_health.h"
#include "parallel/tensor_span.h"
#include "core/heartbeat.h"
#include "train/grad_reduce.h"
#include "train/pipeline_runner.h"
#include "train/trainer.h"
#include "core/cuda_device.h"

namespace glm::train {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

StepResult Trainer::train_step() {
  auto t0 = std::chrono::steady_clock::now();
  heartbeat(Phase::data);
  stall_if_testing(state_.step + 1);
  model_->clear_nonfinite();
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
  std::vector<modeldef::Batch> batches;
  double counts[1] = {0};
  for (std::int64_t first = 0; first < local; first += mb) {
    batches.push_back(data_.train->micro_batch(slice_start + first, mb));
    poison_if_testing(batches.back(), slice_start + first);
    counts[0] += static_cast<double>(batches.back().num_targets());
  }
  heartbeat(Phase::reduction);
  dp_sum(counts);
  const auto targets = static_cast<std::int64_t>(counts[0]);
  r.model_flops = 3.0 * config_.model.forward_flops(static_cast<double>(r.tokens),
                                                    static_cast<double>(targets));
  const float scale = static_cast<float>(scaler_.scale());
  model_->zero_grads();
  // Data parallel without ZeRO-1: every rank's gradients (already divided by the global
  // target count) are summed layer by layer during the last backward (train/grad_reduce.h),
  // so all ranks hold the gradient of the whole global batch.
  std::optional<LayerwiseGradReduce> reduce;
  if (!optimizer_->sharded() && dp_size() > 1)
    reduce.emplace(*dp(), model_->layout(), model_->grads().flat());
  model::StepOptions step_opt;
  step_opt.loss_scale = scale;
  step_opt.num_targets = targets;
  step_opt.step = static_cast<std::uint32_t>(state_.step);
  step_opt.training = true;
  step_opt.embedding_grad_shrink =
      static_cast<float>(optim::egs_alpha(config_.egs_schedule, state_.step));
  if (reduce) step_opt.on_layer_grads = [&reduce](int layer) { reduce->layer_done(layer); };
  // Forward and backward of every micro-batch through this rank's stage (1F1B under PP).
  const std::int64_t next = state_.step + 1;
  const bool health = next % std::max(1, config_.train.log_interval) == 0 ||
                      next == config_.train.train_iters;
  model_->set_track_attention_logits(health);
  const PipelineStats ps = run_pipeline_step(*model_, pp(), batches, step_opt);
  model_->set_track_attention_logits(false);
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
  // With ZeRO-1 the optimizer reduce-scatters the gradients instead: this rank then holds
  // its shard's sum.
  heartbeat(Phase::reduction);
  if (reduce) reduce->finish();
  const Tensor grads = optimizer_->reduce_grads(model_->grads().padded());
  const modeldef::ElementRange range = optimizer_->range();

  // One reduction over every rank agrees on the loss, the overflow verdict and the global
  // gradient norm: the loss from the last stages' TP rank 0 (one per DP slice), the squares
  // from each parameter's primary piece, counted once (under ZeRO-1 by its shard's owner,
  // else by DP rank 0).
  const bool counts_loss = model_->last_stage() && tp_rank() == 0;
  const bool counts_norm = optimizer_->sharded() || dp_rank() == 0;
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
  if (found_inf && options_.debug_nonfinite)
    spdlog::warn("rank {} step {}: {}", world_rank(), state_.step + 1,
                 model_->first_nonfinite().empty()
                     ? std::string("every tensor of this rank stayed finite (another rank's did not)")
                     : "first non-finite: " + model_->first_nonfinite());
  if (!r.skipped) {
    r.grad_norm = std::sqrt(step_stats[2]) / scale;
    if (spike_guard_.config().enabled && spike_guard_.check(r.loss, r.grad_norm)) {
      r.skipped = true;
      r.skip_reason = fmt::format("spike guard: {} (z {:.1f})",
                                  optim::to_string(spike_guard_.last_reason()),
                                  spike_guard_.last_z());
    }
  }
  // Training health on the steps that are logged: per-group sums of the gradient squares
  // (one more pass over this rank's gradients), then of the update and the updated weights
  // (optim/training_health.h), counted once like the global norm and all-reduced below:
  // [0, G) gradients, [G, 2G) updates, [2G, 3G) weights.
  const std::size_t G = optim::health_group_count(config_.model);
  std::vector<double> health_sums(health ? 3 * G : 0, 0.0);
  if (health && counts_norm)
    optim::add_group_sum_squares(model_->layout(), grads, range,
                                 std::span<double>(health_sums).first(G));
  if (!r.skipped) {
    const double clip = config_.optim.clip_grad > 0
                            ? optim::clip_coefficient(r.grad_norm, config_.optim.clip_grad)
                            : 1.0;
    heartbeat(Phase::optimizer);
    optimizer_->step(grads, r.lr, static_cast<float>(clip / scale));
    if (health && counts_norm) {
      const std::span<double> sums(health_sums);
      optim::add_group_update_squares(optimizer_->adamw(), sums.subspan(G, G),
                                      sums.subspan(2 * G, G));
    }
  } else {
    ++state_.skipped_steps;
    spdlog::warn("step {} skipped: {} (loss scale now {:g})", state_.step + 1, r.skip_reason,
                 scaler_.scale());
    if (spike_guard_.should_rollback() && !config_.spike_guard.recovery.enabled) {
      // Without automatic recovery, K outliers in a row at one level are a level shift,
      // which becomes the guard's new window, so the run never skips forever.
      const int run = spike_guard_.consecutive_flagged();
      if (spike_guard_.accept_new_level()) {
        spdlog::warn("spike guard: {} flagged steps in a row; accepting their level (loss {:.4f}) "
                     "as the new baseline and training on (to roll back instead, resume from an "
                     "earlier checkpoint with resume.skip_samples)", run, r.loss);
        metrics_->log_event({{"event", "spike_guard_new_level"}, {"step", state_.step + 1},
                             {"flagged_in_a_row", run}, {"loss", r.loss}});
      } else {
        spdlog::warn("spike guard: {} non-finite steps in a row; no finite level to accept, the "
                     "steps keep being skipped", run);
      }
    }
  }
  if (health) {
    // The largest attention logit of the first and last layer, over every rank: each rank's
    // pair in its own slot of a sum (the communicators reduce by sums only).
    std::vector<double> logits(2 * static_cast<std::size_t>(world_size()), 0.0);
    const std::array<double, 2> mine = model_->max_attention_logits();
    logits[2 * world_rank()] = mine[0];
    logits[2 * world_rank() + 1] = mine[1];
    world_sum(logits);
    r.max_attention_logit = {-std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()};
    for (std::size_t i = 0; i < logits.size(); ++i)
      r.max_attention_logit[i % 2] = std::max(r.max_attention_logit[i % 2], logits[i]);
    world_sum(health_sums);
    for (std::size_t g = 0; g < G; ++g) {
      r.group_grad_norm.push_back(std::sqrt(health_sums[g]) / scale);
      // no update on a skipped step, and none measured where the state is on a GPU
      const double w = health_sums[2 * G + g];
      r.group_update_ratio.push_back(w > 0 ? std::sqrt(health_sums[G + g] / w) : std::nan(""));
    }
  }
  if (scaler_.dynamic() && scaler_.collapsing())
    spdlog::warn("loss scale has collapsed to {:g}: a warning sign of divergence", scaler_.scale());
  // Divergence signatures for spike_guard.recovery, from values every rank agrees on.
  const bool at_floor =
      found_inf && scaler_.dynamic() && scaler_.scale() <= scaler_.config().min_scale;
  pending_recovery_ = divergence_.observe({.step = state_.step + 1,
                                           .samples_before = state_.consumed_samples,
                                           .loss = r.loss,
                                           .skipped = r.skipped,
                                           .overflow_at_floor = at_floor,
                                           .guard_wants_rollback = spike_guard_.should_rollback()});
  state_.consumed_samples += r.global_batch;
  ++state_.step;
  if (model_->options().device.is_cuda()) cuda_synchronize();  // the step's time is its work
  r.seconds = seconds_since(t0);
  return r;
}

void Trainer::poison_if_testing(modeldef::Batch& batch, std::int64_t first_sample) const {
  const char* spec = std::getenv("GLM_TEST_POISON_SAMPLES");
  long long begin = 0, end = 0;
  if (!spec || std::sscanf(spec, "%lld:%lld", &begin, &end) != 2) return;
  const std::int64_t T = batch.seq_len(), V = config_.model.vocab_size;
  for (int b = 0; b < batch.batch_size(); ++b) {
    if (first_sample + b < begin || first_sample + b >= end) continue;
    std::int32_t* t = batch.targets.data<std::int32_t>() + b * T;
    // The last id of the padded vocabulary: never a real target, so training has pushed its
    // probability down from the first step, and a batch of it is far above the loss trend.
    for (std::int64_t i = 0; i < T; ++i)
      if (t[i] >= 0) t[i] = static_cast<std::int32_t>(V - 1);
  }
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
