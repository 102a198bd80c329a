#include "model/glm_model.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/allocator.h"
#include "core/error.h"
#include "core/heartbeat.h"
#include "kernels/convert.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "kernels/stored_linear.h"
#include "model/attention_logits.h"
#include "model/init.h"
#include "parallel/tensor_parallel.h"

namespace glm::model {

namespace k = glm::kernels;

namespace {
constexpr std::uint32_t kEmbeddingDropoutSite = 0x7FFFFFFFu;  // layers use layer*8 + place

// Rows with a target (>= 0) and their target ids, in row order, from the host targets;
// the two index tensors are placed on `dev`.
void target_rows(const Tensor& targets, Tensor& rows, Tensor& ids, Device dev) {
  const std::int64_t R = targets.numel();
  const std::int32_t* t = targets.data<std::int32_t>();
  std::int64_t n = 0;
  for (std::int64_t r = 0; r < R; ++r) n += t[r] >= 0;
  rows = Tensor::empty({n}, DType::i32);
  ids = Tensor::empty({n}, DType::i32);
  std::int32_t* pr = rows.data<std::int32_t>();
  std::int32_t* pi = ids.data<std::int32_t>();
  for (std::int64_t r = 0, j = 0; r < R; ++r)
    if (t[r] >= 0) {
      pr[j] = static_cast<std::int32_t>(r);
      pi[j++] = t[r];
    }
  if (!dev.is_cpu()) {
    rows = rows.to(dev);
    ids = ids.to(dev);
  }
}

double sum(const Tensor& x_any) {
  const Tensor x = x_any.device().is_cpu() ? x_any : x_any.to(Device::cpu());
  double s = 0;
  const float* p = x.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) s += p[i];
  return s;
}

void check_batch(const modeldef::Batch& b, const modeldef::ModelConfig& c) {
  auto bad = [](const std::string& m) { throw InputError("batch: " + m); };
  for (const Tensor* t : {&b.tokens, &b.positions, &b.targets, &b.prefix_len, &b.valid_len})
    if (!t->device().is_cpu()) bad("batches arrive on the host (the model copies them over)");
  if (b.tokens.dim() != 2 || b.tokens.dtype() != DType::i32) bad("tokens must be i32 [B, T]");
  const auto B = b.tokens.size(0), T = b.tokens.size(1);
  if (T > c.seq_length) bad(fmt::format("length {} exceeds model.seq_length {}", T, c.seq_length));
  for (const Tensor* t : {&b.positions, &b.targets})
    if (t->shape() != b.tokens.shape() || t->dtype() != DType::i32)
      bad("positions and targets must be i32 with the shape of tokens");
  for (const Tensor* t : {&b.prefix_len, &b.valid_len}) {
    if (t->shape() != Shape{B} || t->dtype() != DType::i32) bad("prefix_len and valid_len must be i32 [B]");
    for (std::int64_t i = 0; i < B; ++i) {
      auto v = t->data<std::int32_t>()[i];
      if (v < 0 || v > T) bad(fmt::format("sample {}: prefix/valid length {} outside [0, {}]", i, v, T));
    }
  }
}
}  // namespace

struct GLMModel::Workspace {
  int B = 0, T = 0;
  std::vector<Tensor> x;                // layer inputs [R, h]; x[0] = the stage input
  std::vector<LayerActivations> acts;   // one per layer (one shared with recomputation)
  Tensor recompute_out;                 // [R, h]
  Tensor y, lnf_mean, lnf_rstd;         // final LN output [R, h] and its statistics
  Tensor dx_a, dx_b;                    // [R, h] ping-pong gradients between layers
  Tensor dout;                          // [R, h] gradient of the stage output (received)
  Tensor empty;                         // stage 0's "gradient of its input"
  modeldef::Batch batch;                // the micro-batch's tensors on the model's device
  k::AttentionMask mask;
  Tensor positions;                     // [R] view of the batch's positions
  // The last stage's target rows, their ids and the micro-batch's loss denominator.
  Tensor rows, ids;
  // Head buffers sized by the number of target rows, which varies per batch: kept at their
  // largest size so a step does not allocate (and page-fault) a [rows, V] logits buffer.
  Tensor head_y, head_dy, head_logits, head_losses;
  std::int64_t head_n = 0;

  // A [n, cols] view of buf (of dtype `type`), growing it when needed.
  Tensor rows_of(Tensor& buf, std::int64_t n, std::int64_t cols, DType type) const {
    if (buf.numel() < n * cols)
      buf = Tensor::empty({std::max<std::int64_t>(n * cols, 1)}, type, x[0].device());
    return buf.slice(0, 0, n * cols).view({n, cols});
  }
};

GLMModel::GLMModel(const modeldef::ModelConfig& config, const ModelOptions& options)
    : config_(config),
      options_(options),
      layout_(std::make_shared<modeldef::ParamLayout>(config, options.shard)),
      params_(layout_, options.device, MemoryKind::parameters,
              modeldef::precision_policy(options.precision).params, options.flat_capacity),
      grads_(layout_, options.device, MemoryKind::gradients, DType::f32, options.flat_capacity) {
  GLM_CHECK(options.shard.tp_size == 1 || (options.tp && options.tp->size() == options.shard.tp_size),
            "a tensor-parallel shard (tp {}) needs its TP group", options.shard.tp_size);
  for (int l = options.shard.first_layer; l < options.shard.end_layer(config); ++l)
    layers_.emplace_back(config, options.shard, l);
}

GLMModel::GLMModel(const modeldef::ModelConfig& config, const ModelOptions& options,
                   StoredWeights weights)
    : config_(config),
      options_(options),
      stored_(std::make_unique<StoredWeights>(std::move(weights))) {
  GLM_CHECK(options.shard.tp_size == 1 || (options.tp && options.tp->size() == options.shard.tp_size),
            "a tensor-parallel shard (tp {}) needs its TP group", options.shard.tp_size);
  GLM_CHECK(options.shard.first_layer == 0 && options.shard.end_layer(config) == config.num_layers &&
                options.shard.has_embedding && options.shard.has_head,
            "a served model holds every layer, the embedding and the head");
  GLM_CHECK(static_cast<int>(stored_->layers.size()) == config.num_layers,
            "stored weights of {} layers for a model of {}", stored_->layers.size(),
            config.num_layers);
  GLM_CHECK(stored_->embedding.device().is_cpu() && stored_->embedding.dim() == 2 &&
                stored_->embedding.size(1) == config.hidden_size,
            "the stored embedding must be a host [V_held, h] table, got {}",
            stored_->embedding.describe());
  for (int l = 0; l < config.num_layers; ++l)
    layers_.emplace_back(config, options.shard, l);
}

GLMModel::~GLMModel() = default;
GLMModel::GLMModel(GLMModel&&) noexcept = default;
GLMModel& GLMModel::operator=(GLMModel&&) noexcept = default;

void GLMModel::init() {
  GLM_CHECK(!stored_, "init: a served model's weights are the stored ones");
  deepnorm_init(params_, options_.seed);
}

void GLMModel::set_params(const Tensor& values) {
  GLM_CHECK(!stored_, "set_params: a served model's weights are the stored ones");
  GLM_CHECK(values.numel() == layout_->total(), "set_params: {} for a layout of {} elements",
            values.describe(), layout_->total());
  const Device dev = params_.flat().device();
  const Tensor src = values.device() == dev ? values : values.to(dev);
  k::convert(params_.flat(), src.view({layout_->total()}));
}

Tensor GLMModel::stored(Shape s) const {
  return Tensor::empty(std::move(s), modeldef::precision_policy(options_.precision).activations,
                       options_.device);
}

GLMModel::Workspace& GLMModel::slot(int i, int B, int T) {
  GLM_CHECK(!stored_, "a served model (stored weights) runs forward_cached only");
  GLM_CHECK(i >= 0 && i < 64, "activation slot {} out of range", i);
  if (static_cast<int>(slots_.size()) <= i) slots_.resize(i + 1);
  if (scratch_B_ != B || scratch_T_ != T) {
    scratch_ = {};
    scratch_ = LayerScratch::allocate(config_, options_.shard, B, T, options_.device,
                                      modeldef::precision_policy(options_.precision).activations);
    scratch_B_ = B;
    scratch_T_ = T;
  }
  auto& ws = slots_[i];
  if (ws && ws->B == B && ws->T == T) return *ws;
  ws.reset();  // free the old activations before allocating new ones
  ws = std::make_unique<Workspace>();
  const std::int64_t R = std::int64_t{B} * T, h = config_.hidden_size;
  ws->B = B;
  ws->T = T;
  // What the forward saves for the backward counts as activations; the gradients flowing
  // back (dout, dx_a, dx_b) and the layers' scratch are workspace.
  std::optional<MemoryScope> saved(std::in_place, MemoryKind::activations);
  for (std::size_t l = 0; l <= layers_.size(); ++l) ws->x.push_back(stored({R, h}));
  std::size_t n_acts = options_.recompute == Recompute::full ? 1 : layers_.size();
  for (std::size_t l = 0; l < n_acts; ++l)
    ws->acts.push_back(
        LayerActivations::allocate(config_, options_.shard, B, T, options_.device, true,
                                   modeldef::precision_policy(options_.precision).activations));
  if (options_.recompute == Recompute::full) ws->recompute_out = stored({R, h});
  if (last_stage()) {
    ws->y = stored({R, h});
    ws->lnf_mean = f32({R});
    ws->lnf_rstd = f32({R});
  }
  saved.reset();
  if (!last_stage()) ws->dout = stored({R, h});
  ws->dx_a = stored({R, h});
  ws->dx_b = stored({R, h});
  return *ws;
}

void GLMModel::upload_batch(Workspace& ws, const modeldef::Batch& b) {
  if (options_.device.is_cpu()) {
    ws.batch = b;
    return;
  }
  const Device dev = options_.device;
  ws.batch = {b.tokens.to(dev), b.positions.to(dev), Tensor(), b.prefix_len.to(dev),
              b.valid_len.to(dev), b.sample_offset};  // targets stay on the host (target_rows)
}

LayerContext GLMModel::make_context(Workspace& ws, bool training, std::uint32_t step) {
  const modeldef::Batch& b = ws.batch;  // uploaded by the slot's forward (upload_batch)
  ws.mask = {b.prefix_len, b.valid_len};
  ws.positions = b.positions.view({b.tokens.numel()});
  LayerContext ctx;
  ctx.B = b.batch_size();
  ctx.T = b.seq_len();
  ctx.mask = &ws.mask;
  ctx.positions = &ws.positions;
  ctx.training = training;
  ctx.seed = options_.seed;
  ctx.step = step;
  ctx.sample_offset = b.sample_offset;
  ctx.tp = options_.tp;
  return ctx;
}

void GLMModel::check_finite(const Tensor& t, const char* kind, const std::string& where) {
  if (first_nonfinite_.empty() && !k::all_finite(t))
    first_nonfinite_ = fmt::format("{}: {}", kind, where);
}

void GLMModel::forward_layers(Workspace& ws, const LayerContext& ctx) {
  const std::int64_t R = std::int64_t{ctx.B} * ctx.T;
  if (first_stage()) {
    // x0 = dropout(E[tokens])                                              [R, h]
    embed(ws.x[0], ws.batch.tokens.view({R}));
    if (ctx.training && config_.hidden_dropout > 0) {
      Tensor v = ws.x[0].view({ctx.B, ctx.T, config_.hidden_size});
      k::dropout_apply(v, static_cast<float>(config_.hidden_dropout),
                       {ctx.seed, ctx.step, kEmbeddingDropoutSite, ctx.sample_offset, 1, 0}, 1);
    }
  }
  if (find_nonfinite_ && first_stage()) check_finite(ws.x[0], "forward activation", "embedding output");
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    LayerActivations& acts = ws.acts[options_.recompute == Recompute::full ? 0 : i];
    int l = options_.shard.first_layer + static_cast<int>(i);
    heartbeat(Phase::forward, l);
    layers_[i].forward(ws.x[i + 1], acts, scratch_, ws.x[i], layer_weights(l), ctx);
    if (find_nonfinite_) check_finite(ws.x[i + 1], "forward activation", fmt::format("output of layer {}", l));
    for (int k = 0; k < 2; ++k)
      if (track_logits_ && l == (k == 0 ? 0 : config_.num_layers - 1))
        max_logit_[k] = std::max(max_logit_[k],
                                 max_attention_logit(acts.qkv, *ctx.mask,
                                                     options_.shard.local_heads(config_),
                                                     config_.head_dim()));
  }
}

void GLMModel::embed(Tensor& x, const Tensor& tokens) {
  // vocab-parallel: each rank looks up the tokens among its rows (zeros for the others), then
  // the TP group sums
  const Tensor& table = stored_ ? stored_->embedding : params_.embedding();
  const std::int64_t start =
      stored_ ? stored_->vocab_begin : options_.shard.vocab_start(config_);
  if (table.device() == x.device()) {
    k::embedding_forward(x, tokens, table, start, config_.vocab_size);
    parallel::reduce_from_tp(options_.tp, x);
    return;
  }
  GLM_CHECK(table.device().is_cpu() && tokens.device().is_cpu(),
            "embed: a table on {} for x on {} (only a host table may serve a device x)",
            table.describe(), x.describe());
  Tensor rows = Tensor::empty(x.shape(), DType::f32);
  k::embedding_forward(rows, tokens, table, start, config_.vocab_size);
  parallel::reduce_from_tp(options_.tp, rows);  // in host memory (an NCCL group stages it)
  x.copy_from(rows);
}

LayerWeights GLMModel::layer_weights(int l) const {
  return stored_ ? stored_->layers[static_cast<std::size_t>(l - options_.shard.first_layer)]
                 : LayerWeights::of(params_.layer(l));
}

Tensor GLMModel::forward_cached(const Tensor& tokens, const Tensor& positions,
                                std::span<const LayerCache> caches, const Tensor& rows,
                                kernels::QuantActivations activations) {
  GLM_CHECK(stored_, "forward_cached: a model over stored weights (serving) only");
  GLM_CHECK(caches.size() == layers_.size(), "forward_cached: {} caches for {} layers",
            caches.size(), layers_.size());
  const std::int64_t n = tokens.numel(), h = config_.hidden_size, nr = rows.numel();
  const std::int64_t V_held = stored_->embedding.size(0);
  // x_0 = E[tokens]                                                   [n, h]
  Tensor x = f32({n, h});
  embed(x, tokens);
  LayerContext ctx;
  ctx.B = 1;
  ctx.T = static_cast<int>(n);
  ctx.positions = &positions;
  ctx.activations = activations;
  ctx.tp = options_.tp;
  // x_{l+1} = layer l (x_l), in place, attending to the cache
  LayerActivations acts = LayerActivations::allocate(config_, options_.shard, 1, static_cast<int>(n),
                                                     options_.device, /*attention_buffer=*/false);
  LayerScratch s;
  s.t_h = f32({n, h});
  for (std::size_t i = 0; i < layers_.size(); ++i)
    layers_[i].forward(x, acts, s, x, stored_->layers[i], ctx, &caches[i]);
  // y = LN_final(x_N) on the requested rows; logits = y E_held^T         [rows, V_held]
  Tensor logits = f32({nr, V_held});
  if (nr == 0) return logits;
  Tensor xr = f32({nr, h});
  k::gather_rows(xr, x, rows);
  Tensor y = f32({nr, h}), mean = f32({nr}), rstd = f32({nr});
  k::layernorm_forward(y, mean, rstd, xr, final_ln_w(), final_ln_b(),
                       static_cast<float>(config_.layernorm_epsilon));
  head_forward(logits, y);
  return logits;
}

void GLMModel::set_track_attention_logits(bool on) {
  if (on && !track_logits_) max_logit_.fill(-std::numeric_limits<double>::infinity());
  track_logits_ = on;
}

LossStats GLMModel::head_loss(Workspace& ws, const modeldef::Batch& batch, float grad_scale,
                              bool write_grad) {
  // (batch: the host micro-batch, whose targets pick the rows)
  // y = LN_final(x_N)                                                [R, h]
  k::layernorm_forward(ws.y, ws.lnf_mean, ws.lnf_rstd, ws.x.back(), final_ln_w(), final_ln_b(),
                       static_cast<float>(config_.layernorm_epsilon));
  // Loss only where there is a target: gather those rows before the head GEMM.
  target_rows(batch.targets.view({batch.targets.numel()}), ws.rows, ws.ids, options_.device);
  const std::int64_t n = ws.rows.numel(), h = config_.hidden_size;
  const std::int64_t V_local = options_.shard.local_vocab(config_);
  const DType act = modeldef::precision_policy(options_.precision).activations;
  ws.head_n = n;
  Tensor y_t = ws.rows_of(ws.head_y, n, h, act);
  k::gather_rows(y_t, ws.y, ws.rows);
  Tensor logits = ws.rows_of(ws.head_logits, n, V_local, act);
  Tensor losses = ws.rows_of(ws.head_losses, n, 1, DType::f32).view({n});
  head_forward(logits, y_t);
  // (with write_grad) dlogits = grad_scale * (softmax - onehot), written over the logits
  parallel::vocab_parallel_cross_entropy(options_.tp, losses, logits, ws.ids,
                                         options_.shard.vocab_start(config_), grad_scale,
                                         write_grad);
  return {sum(losses), n};
}

Tensor& GLMModel::head_backward(Workspace& ws) {
  const std::int64_t n = ws.head_n, h = config_.hidden_size;
  const std::int64_t V_local = options_.shard.local_vocab(config_);
  const DType act = modeldef::precision_policy(options_.precision).activations;
  Tensor y_t = ws.rows_of(ws.head_y, n, h, act);
  Tensor logits = ws.rows_of(ws.head_logits, n, V_local, act);
  // Head: dE += dlogits^T y_t (the tied head's gradient is not shrunk); dy_t = dlogits E,
  // summed over the TP group (y_t is the replicated input of a column-parallel product)
  Tensor dy_t = ws.rows_of(ws.head_dy, n, h, act), gE = grads_.embedding();
  k::linear_backward(&dy_t, gE, nullptr, logits, y_t, params_.embedding(), false);
  parallel::copy_to_tp_backward(options_.tp, dy_t);
  Tensor& dy = ws.dx_a;
  dy.zero_();
  k::scatter_add_rows(dy, dy_t, ws.rows);
  // y = LN_final(x_N)
  Tensor g_lnf_w = grads_.final_ln_w(), g_lnf_b = grads_.final_ln_b();
  k::layernorm_backward(ws.dx_b, g_lnf_w, g_lnf_b, dy, nullptr, 0.f, ws.x.back(), ws.lnf_mean,
                        ws.lnf_rstd, params_.final_ln_w());
  if (find_nonfinite_) {
    check_finite(gE, "parameter gradient", "embedding (the tied head)");
    check_finite(ws.dx_b, "activation gradient", "input of the final LayerNorm");
  }
  return ws.dx_b;
}

Tensor& GLMModel::backward_layers(Workspace& ws, const LayerContext& ctx, Tensor& dx,
                                  const StepOptions& opt) {
  const std::int64_t R = std::int64_t{ctx.B} * ctx.T;
  Tensor* cur = &dx;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    int l = options_.shard.first_layer + static_cast<int>(i);
    heartbeat(Phase::backward, l);
    modeldef::LayerParams w = params_.layer(l);
    LayerActivations* acts = &ws.acts[0];
    if (options_.recompute == Recompute::full) {
      // Recompute this layer's activations from its saved input, exactly as forward did.
      layers_[i].forward(ws.recompute_out, *acts, scratch_, ws.x[i], LayerWeights::of(w), ctx);
    } else {
      acts = &ws.acts[i];
    }
    Tensor* next = cur == &ws.dx_a ? &ws.dx_b : &ws.dx_a;
    layers_[i].backward(*next, scratch_, *cur, ws.x[i], *acts, w, grads_.layer(l), ctx);
    if (find_nonfinite_) {
      check_finite(*next, "activation gradient", fmt::format("input of layer {}", l));
      for (std::size_t i = 0; i < layout_->specs().size(); ++i)
        if (layout_->specs()[i].layer == l)
          check_finite(grads_.at(static_cast<int>(i)), "parameter gradient",
                       layout_->specs()[i].name);
    }
    cur = next;
    if (opt.on_layer_grads) opt.on_layer_grads(l);
  }
  if (!first_stage()) return *cur;

  // x0 = dropout(E[tokens]): dE += alpha_e * dropout(dx0)  (embedding gradient shrink; each
  // TP rank adds the rows of its vocabulary shard)
  if (ctx.training && config_.hidden_dropout > 0) {
    Tensor v = cur->view({ctx.B, ctx.T, config_.hidden_size});
    k::dropout_apply(v, static_cast<float>(config_.hidden_dropout),
                     {ctx.seed, ctx.step, kEmbeddingDropoutSite, ctx.sample_offset, 1, 0}, 1);
  }
  Tensor gE = grads_.embedding();
  k::embedding_backward(gE, *cur, ws.batch.tokens.view({R}),
                        opt.embedding_grad_shrink.value_or(
                            static_cast<float>(config_.embedding_grad_shrink)),
                        options_.shard.vocab_start(config_));
  if (find_nonfinite_) check_finite(gE, "parameter gradient", "embedding");
  return ws.empty;
}

void GLMModel::head_forward(Tensor& logits, const Tensor& y_rows) {
  // logits = y E^T with the tied embedding (this rank's vocabulary shard)  [rows, V_local]
  if (stored_)
    k::stored_linear_forward(logits, y_rows, stored_->head, false);
  else
    k::linear_forward(logits, y_rows, params_.embedding(), nullptr);
}

Tensor& GLMModel::stage_input(int i, int B, int T) {
  GLM_CHECK(!first_stage(), "stage 0 has no input to receive");
  return slot(i, B, T).x[0];
}

const Tensor& GLMModel::stage_output(int i) const {
  GLM_CHECK(i < static_cast<int>(slots_.size()) && slots_[i], "slot {} holds no forward", i);
  return slots_[i]->x.back();
}

Tensor& GLMModel::stage_output_grad(int i) {
  GLM_CHECK(!last_stage() && i < static_cast<int>(slots_.size()) && slots_[i],
            "slot {}: no output gradient to receive here", i);
  return slots_[i]->dout;
}

LossStats GLMModel::stage_forward(const modeldef::Batch& batch, const StepOptions& opt, int i,
                                  bool backward) {
  check_batch(batch, config_);
  Workspace& ws = slot(i, batch.batch_size(), batch.seq_len());
  upload_batch(ws, batch);
  LayerContext ctx = make_context(ws, opt.training, opt.step);
  forward_layers(ws, ctx);
  if (!last_stage()) return {};
  const std::int64_t denom = opt.num_targets > 0 ? opt.num_targets : batch.num_targets();
  const float scale = opt.loss_scale / static_cast<float>(std::max<std::int64_t>(denom, 1));
  return head_loss(ws, batch, scale, backward);
}

const Tensor& GLMModel::stage_backward(const modeldef::Batch& batch, const StepOptions& opt,
                                       int i) {
  Workspace& ws = slot(i, batch.batch_size(), batch.seq_len());
  LayerContext ctx = make_context(ws, opt.training, opt.step);  // the forward's batch
  Tensor& dx = last_stage() ? head_backward(ws) : ws.dout;
  return backward_layers(ws, ctx, dx, opt);
}

LossStats GLMModel::forward_backward(const modeldef::Batch& batch, const StepOptions& opt) {
  GLM_CHECK(first_stage() && last_stage(), "forward_backward needs the whole model on one stage");
  LossStats stats = stage_forward(batch, opt, 0);
  stage_backward(batch, opt, 0);
  return stats;
}

LossStats GLMModel::forward_loss(const modeldef::Batch& batch) {
  GLM_CHECK(first_stage() && last_stage(), "forward_loss needs the whole model on one stage");
  StepOptions eval;
  eval.training = false;
  return stage_forward(batch, eval, 0, /*backward=*/false);
}

Tensor GLMModel::forward_logits(const modeldef::Batch& batch) {
  GLM_CHECK(first_stage() && last_stage() && options_.shard.tp_size == 1,
            "forward_logits needs the whole model in one process");
  check_batch(batch, config_);
  Workspace& ws = slot(0, batch.batch_size(), batch.seq_len());
  upload_batch(ws, batch);
  LayerContext ctx = make_context(ws, false, 0);
  forward_layers(ws, ctx);
  k::layernorm_forward(ws.y, ws.lnf_mean, ws.lnf_rstd, ws.x.back(), final_ln_w(), final_ln_b(),
                       static_cast<float>(config_.layernorm_epsilon));
  Tensor logits = f32({ws.y.size(0), config_.vocab_size});
  head_forward(logits, ws.y);
  return logits.device().is_cpu() ? logits : logits.to(Device::cpu());
}

}  // namespace glm::model
