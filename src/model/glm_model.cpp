#include "model/glm_model.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/convert.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "model/init.h"

namespace glm::model {

namespace k = glm::kernels;

namespace {
constexpr std::uint32_t kEmbeddingDropoutSite = 0x7FFFFFFFu;  // layers use layer*8 + place

Tensor f32(Shape s) { return Tensor::empty(std::move(s), DType::f32); }

// Rows with a target (>= 0) and their target ids, in row order.
void target_rows(const Tensor& targets, Tensor& rows, Tensor& ids) {
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
}

double sum(const Tensor& x) {
  double s = 0;
  const float* p = x.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) s += p[i];
  return s;
}

void check_batch(const Batch& b, const ModelConfig& c) {
  auto bad = [](const std::string& m) { throw InputError("batch: " + m); };
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

std::int64_t Batch::num_targets() const {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < targets.numel(); ++i) n += targets.data<std::int32_t>()[i] >= 0;
  return n;
}

struct GLMModel::Workspace {
  int B = 0, T = 0;
  std::vector<Tensor> x;                // N+1 layer inputs [R, h]; x[0] = embedding output
  std::vector<LayerActivations> acts;   // one per layer (one shared with recomputation)
  LayerScratch scratch;
  Tensor recompute_out;                 // [R, h]
  Tensor y, lnf_mean, lnf_rstd;         // final LN output [R, h] and its statistics
  Tensor dx_a, dx_b;                    // [R, h] ping-pong gradients between layers
  k::AttentionMask mask;
  Tensor positions;                     // [R] view of the batch's positions
  // Head buffers sized by the number of target rows, which varies per batch: kept at their
  // largest size so a step does not allocate (and page-fault) a [rows, V] logits buffer.
  Tensor head_y, head_dy, head_logits, head_losses;

  // A [n, cols] view of buf, growing it when needed.
  static Tensor rows(Tensor& buf, std::int64_t n, std::int64_t cols) {
    if (buf.numel() < n * cols) buf = Tensor::empty({std::max<std::int64_t>(n * cols, 1)}, DType::f32);
    return buf.slice(0, 0, n * cols).view({n, cols});
  }
};

GLMModel::GLMModel(const ModelConfig& config, const ModelOptions& options)
    : config_(config),
      options_(options),
      layout_(std::make_shared<ParamLayout>(config, options.shard)),
      params_(layout_),
      grads_(layout_) {
  GLM_CHECK(options.shard.has_embedding && options.shard.has_head,
            "pipeline stages without embedding or head are built by the parallel runtime");
  for (int l = options.shard.first_layer; l < options.shard.end_layer(config); ++l)
    layers_.emplace_back(config, l, options.precision);
}

GLMModel::~GLMModel() = default;
GLMModel::GLMModel(GLMModel&&) noexcept = default;
GLMModel& GLMModel::operator=(GLMModel&&) noexcept = default;

void GLMModel::init() {
  deepnorm_init(params_, options_.seed);
  round_params_to_precision();
}

void GLMModel::round_params_to_precision() {
  if (options_.precision == Precision::fp16) k::round_to_f16(params_.flat());
}

void GLMModel::store(Tensor& t) const {
  if (options_.precision == Precision::fp16) k::round_to_f16(t);
}

GLMModel::Workspace& GLMModel::workspace(int B, int T) {
  if (ws_ && ws_->B == B && ws_->T == T) return *ws_;
  ws_.reset();  // free the old activations before allocating new ones
  auto ws = std::make_unique<Workspace>();
  const std::int64_t R = std::int64_t{B} * T, h = config_.hidden_size;
  ws->B = B;
  ws->T = T;
  for (std::size_t i = 0; i <= layers_.size(); ++i) ws->x.push_back(f32({R, h}));
  std::size_t n_acts = options_.recompute == Recompute::full ? 1 : layers_.size();
  for (std::size_t i = 0; i < n_acts; ++i)
    ws->acts.push_back(LayerActivations::allocate(config_, B, T));
  ws->scratch = LayerScratch::allocate(config_, B, T);
  if (options_.recompute == Recompute::full) ws->recompute_out = f32({R, h});
  ws->y = f32({R, h});
  ws->lnf_mean = f32({R});
  ws->lnf_rstd = f32({R});
  ws->dx_a = f32({R, h});
  ws->dx_b = f32({R, h});
  ws_ = std::move(ws);
  return *ws_;
}

LayerContext GLMModel::make_context(const Batch& b, bool training, std::uint32_t step) {
  check_batch(b, config_);
  Workspace& ws = workspace(b.batch_size(), b.seq_len());
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
  return ctx;
}

const Tensor& GLMModel::forward_trunk(const Batch& batch, const LayerContext& ctx) {
  Workspace& ws = *ws_;
  const std::int64_t R = std::int64_t{ctx.B} * ctx.T;
  Tensor tokens = batch.tokens.view({R});

  // x0 = dropout(E[tokens])                                          [R, h]
  k::embedding_forward(ws.x[0], tokens, params_.embedding(), 0, config_.vocab_size);
  store(ws.x[0]);
  if (ctx.training && config_.hidden_dropout > 0) {
    Tensor v = ws.x[0].view({ctx.B, ctx.T, config_.hidden_size});
    k::dropout_apply(v, static_cast<float>(config_.hidden_dropout),
                     {ctx.seed, ctx.step, kEmbeddingDropoutSite, ctx.sample_offset, 1, 0}, 1);
  }

  for (std::size_t i = 0; i < layers_.size(); ++i) {
    LayerActivations& acts = ws.acts[options_.recompute == Recompute::full ? 0 : i];
    int l = options_.shard.first_layer + static_cast<int>(i);
    layers_[i].forward(ws.x[i + 1], acts, ws.scratch, ws.x[i], params_.layer(l), ctx);
  }

  // y = LN_final(x_N)                                                [R, h]
  k::layernorm_forward(ws.y, ws.lnf_mean, ws.lnf_rstd, ws.x.back(), params_.final_ln_w(),
                       params_.final_ln_b(), static_cast<float>(config_.layernorm_epsilon));
  store(ws.y);
  return ws.y;
}

void GLMModel::backward_trunk(const Batch& batch, const LayerContext& ctx, Tensor& dy) {
  Workspace& ws = *ws_;
  const std::int64_t R = std::int64_t{ctx.B} * ctx.T;

  // y = LN_final(x_N)
  Tensor g_lnf_w = grads_.final_ln_w(), g_lnf_b = grads_.final_ln_b();
  Tensor* cur = &ws.dx_b;
  k::layernorm_backward(*cur, g_lnf_w, g_lnf_b, dy, nullptr, 0.f, ws.x.back(), ws.lnf_mean,
                        ws.lnf_rstd, params_.final_ln_w());
  store(*cur);

  for (std::size_t i = layers_.size(); i-- > 0;) {
    int l = options_.shard.first_layer + static_cast<int>(i);
    LayerParams w = params_.layer(l);
    LayerActivations* acts = &ws.acts[0];
    if (options_.recompute == Recompute::full) {
      // Recompute this layer's activations from its saved input, exactly as forward did.
      layers_[i].forward(ws.recompute_out, *acts, ws.scratch, ws.x[i], w, ctx);
    } else {
      acts = &ws.acts[i];
    }
    Tensor* next = cur == &ws.dx_a ? &ws.dx_b : &ws.dx_a;
    layers_[i].backward(*next, ws.scratch, *cur, ws.x[i], *acts, w, grads_.layer(l), ctx);
    cur = next;
  }

  // x0 = dropout(E[tokens]): dE += alpha_e * dropout(dx0)  (embedding gradient shrink)
  if (ctx.training && config_.hidden_dropout > 0) {
    Tensor v = cur->view({ctx.B, ctx.T, config_.hidden_size});
    k::dropout_apply(v, static_cast<float>(config_.hidden_dropout),
                     {ctx.seed, ctx.step, kEmbeddingDropoutSite, ctx.sample_offset, 1, 0}, 1);
  }
  Tensor gE = grads_.embedding();
  k::embedding_backward(gE, *cur, batch.tokens.view({R}),
                        static_cast<float>(config_.embedding_grad_shrink), 0);
}

void GLMModel::head_forward(Tensor& logits, const Tensor& y_rows) {
  // logits = y E^T with the tied embedding                          [rows, V]
  k::linear_forward(logits, y_rows, params_.embedding(), nullptr);
  store(logits);
}

LossStats GLMModel::forward_backward(const Batch& batch, const StepOptions& opt) {
  LayerContext ctx = make_context(batch, opt.training, opt.step);
  const Tensor& y = forward_trunk(batch, ctx);

  // Loss only where there is a target: gather those rows before the head GEMM.
  Tensor rows, ids;
  target_rows(batch.targets.view({batch.targets.numel()}), rows, ids);
  const std::int64_t n = rows.numel(), h = config_.hidden_size;
  const std::int64_t denom = opt.num_targets > 0 ? opt.num_targets : n;
  Workspace& ws = *ws_;
  Tensor y_t = Workspace::rows(ws.head_y, n, h);
  k::gather_rows(y_t, y, rows);
  Tensor logits = Workspace::rows(ws.head_logits, n, config_.vocab_size);
  Tensor losses = Workspace::rows(ws.head_losses, n, 1).view({n});
  head_forward(logits, y_t);
  // dlogits = loss_scale / denom * (softmax - onehot), written over the logits
  k::softmax_cross_entropy(losses, logits, ids, opt.loss_scale / static_cast<float>(denom), true);
  store(logits);
  LossStats stats{sum(losses), n};

  // Head: dE += dlogits^T y_t (the tied head's gradient is not shrunk); dy_t = dlogits E
  Tensor dy_t = Workspace::rows(ws.head_dy, n, h), gE = grads_.embedding();
  k::linear_backward(&dy_t, gE, nullptr, logits, y_t, params_.embedding());
  Tensor& dy = ws_->dx_a;
  dy.zero_();
  k::scatter_add_rows(dy, dy_t, rows);
  store(dy);

  backward_trunk(batch, ctx, dy);
  return stats;
}

LossStats GLMModel::forward_loss(const Batch& batch) {
  LayerContext ctx = make_context(batch, false, 0);
  const Tensor& y = forward_trunk(batch, ctx);
  Tensor rows, ids;
  target_rows(batch.targets.view({batch.targets.numel()}), rows, ids);
  const std::int64_t n = rows.numel();
  Workspace& ws = *ws_;
  Tensor y_t = Workspace::rows(ws.head_y, n, config_.hidden_size);
  k::gather_rows(y_t, y, rows);
  Tensor logits = Workspace::rows(ws.head_logits, n, config_.vocab_size);
  Tensor losses = Workspace::rows(ws.head_losses, n, 1).view({n});
  head_forward(logits, y_t);
  k::softmax_cross_entropy(losses, logits, ids, 1.f, false);
  return {sum(losses), n};
}

Tensor GLMModel::forward_logits(const Batch& batch) {
  LayerContext ctx = make_context(batch, false, 0);
  const Tensor& y = forward_trunk(batch, ctx);
  Tensor logits = f32({y.size(0), config_.vocab_size});
  head_forward(logits, y);
  return logits;
}

}  // namespace glm::model
