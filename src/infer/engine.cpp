#include "infer/engine.h"

#include <algorithm>
#include <limits>
#include <string>

#include "core/allocator.h"
#include "core/error.h"
#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "kernels/kv_attention.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"

namespace glm::infer {

namespace k = glm::kernels;

Engine::Engine(ModelFile model, Device device, parallel::Communicator* tp)
    : m_(std::move(model)), tp_(tp && tp->size() > 1 ? tp : nullptr), device_(device) {
  const int ranks = tp ? tp->size() : 1;
  if (ranks > 1 && ranks != m_.tp)
    throw InputError(fmt::format("{}: exported for tp {}, but {} ranks run it: run it with "
                                 "mpirun -n {} (or re-export with glm-export --tp {})",
                                 m_.path, m_.tp, ranks, m_.tp, ranks));
  if (tp_ && m_.shard != tp_->rank())
    throw InputError(fmt::format("{}: rank {} of the tensor-parallel group holds shard {}, not "
                                 "its own (load_model_file with the rank)",
                                 m_.path, tp_->rank(), m_.shard));
  if (tp_ && device_.is_cuda() && !tp_->takes_device_memory())
    throw InputError(fmt::format("{}: a CUDA engine over ranks needs a tensor-parallel group "
                                 "that takes device memory (NCCL); its group is MPI's: use "
                                 "--device cpu, or one process",
                                 m_.path));
  if (!tp_ && m_.shard >= 0 && m_.tp > 1)
    throw InputError(fmt::format("{}: only shard {} of {} was loaded, but no tensor-parallel "
                                 "group runs it", m_.path, m_.shard, m_.tp));
  if (device_.is_cuda() && !built_with_cuda())
    throw InputError(fmt::format(
        "{}: cannot run on CUDA: this build lacks CUDA (configured with GLM_CUDA=OFF or without "
        "nvcc); use the CPU",
        m_.path));
  if (device_.is_cuda() && cuda_device_count() <= device_.index)
    throw InputError(fmt::format("{}: cannot run on cuda:{}: no CUDA device present", m_.path,
                                 device_.index));
  const model::ModelConfig& c = m_.config;
  // Uploaded once, as stored (never an fp16 copy of a quantized weight); the CPU keeps the
  // file's tensors.
  auto on_device = [this](const Tensor& t) { return device_.is_cpu() ? t : t.to(device_); };
  head_ = k::LinearWeight::of(on_device(m_.embedding));
  final_ln_w_ = on_device(m_.final_ln_w);
  final_ln_b_ = on_device(m_.final_ln_b);
  for (int l = 0; l < c.num_layers; ++l) {
    std::vector<model::LayerWeights> w;
    std::vector<model::GLMLayer> layer;
    for (std::size_t i = 0; i < m_.layers[l].size(); ++i) {
      w.push_back(device_.is_cpu() ? m_.layers[l][i] : m_.layers[l][i].to(device_));
      model::ModelShard shard;
      shard.tp_rank = m_.shard >= 0 ? m_.shard : static_cast<int>(i);
      shard.tp_size = m_.tp;
      layer.emplace_back(c, shard, l, model::Precision::fp32);
    }
    weights_.push_back(std::move(w));
    layers_.push_back(std::move(layer));
  }
}

void Engine::set_activations(kernels::QuantActivations act) {
  if (device_.is_cuda() && act != kernels::QuantActivations::fp32)
    throw InputError("int8 activations are a CPU option: the CUDA engine's linears take fp16 "
                     "activations");
  act_ = act;
}

void Engine::set_kv_cache(DType t) {
  if (t != DType::f32 && t != DType::f16)
    throw InputError(fmt::format("a KV cache stores f32 or f16, not {}", dtype_name(t)));
  kv_ = t;
}

std::int64_t Engine::max_cache_tokens() const {
  const model::ModelConfig& c = m_.config;
  // K and V of the heads held
  const std::int64_t per_token = 2 * std::int64_t{c.num_layers} * c.hidden_size *
                                 dtype_bytes(kv_, 1) * shards() / m_.tp;
  const std::int64_t memory =
      static_cast<std::int64_t>(available_memory_bytes(device_)) / std::max<std::int64_t>(per_token, 1);
  const std::int64_t kernel = k::kv_attention_max_keys(device_, c.head_dim());
  return std::min({memory, kernel, std::int64_t{std::numeric_limits<int>::max()}});
}

KVCache Engine::new_cache(std::int64_t capacity) const {
  if (capacity < 1)
    throw InputError(fmt::format("a KV cache of {} tokens: the capacity must be >= 1", capacity));
  const model::ModelConfig& c = m_.config;
  const std::int64_t d = c.head_dim();
  const std::int64_t max_keys = k::kv_attention_max_keys(device_, d);
  const std::string where = device_.is_cpu() ? "cpu" : fmt::format("cuda:{}", device_.index);
  if (capacity > max_keys)
    throw InputError(fmt::format(
        "a KV cache of {} tokens exceeds the {} the CUDA attention kernel holds at head dim {} "
        "on {}; generate fewer tokens or use --device cpu",
        capacity, max_keys, d, where));
  const std::int64_t limit = max_cache_tokens();
  if (capacity > limit)
    throw InputError(fmt::format(
        "a KV cache of {} tokens needs {:.1f} GiB ({} layers x 2 x {} {} values a token), more "
        "than the {:.1f} GiB available on {}; generate fewer tokens{}",
        capacity,
        capacity * 2.0 * dtype_bytes(kv_, 1) * c.num_layers * c.hidden_size * shards() / m_.tp /
            (1 << 30),
        c.num_layers, c.hidden_size * shards() / m_.tp, dtype_name(kv_),
        static_cast<double>(available_memory_bytes(device_)) / (1 << 30), where,
        kv_ == DType::f32 ? " or use --kv-cache fp16" : ""));
  return KVCache(m_.config, m_.tp, static_cast<int>(capacity), device_, shards(), kv_);
}

Tensor Engine::forward(KVCache& cache, std::span<const std::int32_t> tokens,
                       std::span<const std::int32_t> positions, int prefix_len,
                       std::span<const std::int64_t> rows) const {
  const model::ModelConfig& c = m_.config;
  const std::int64_t n = static_cast<std::int64_t>(tokens.size()), h = c.hidden_size;
  const std::int64_t V = c.vocab_size, nr = static_cast<std::int64_t>(rows.size());
  GLM_CHECK(positions.size() == tokens.size(), "forward: {} tokens, {} positions", n,
            positions.size());
  GLM_CHECK(cache.device() == device_, "forward: the KV cache is on {}, the engine on {}",
            cache.device().is_cpu() ? "cpu" : "cuda", device_.is_cpu() ? "cpu" : "cuda");
  if (cache.length() + n > cache.capacity())
    throw InputError(fmt::format("sequence of {} tokens exceeds the KV cache of {}",
                                 cache.length() + n, cache.capacity()));
  for (std::int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw InputError(fmt::format("token id {} at position {} is outside the vocabulary of {}",
                                   tokens[i], i, V));
  for (std::int64_t r : rows) GLM_CHECK(r >= 0 && r < n, "forward: logit row {} of {}", r, n);
  if (n == 0) return Tensor::empty({0, V}, DType::f32);  // rows is empty too (checked)
  auto f32 = [this](Shape s) { return Tensor::empty(std::move(s), DType::f32, device_); };

  // x0 = E[tokens]: rows of the host table, fp16 -> fp32, on the engine's device      [n, h]
  // Over ranks each holds its vocabulary rows: it looks up the tokens it holds, zeros the
  // others, and one all-reduce sums them (exact: one term of each sum is not zero), in host
  // memory before the upload.
  Tensor x = Tensor::empty({n, h}, DType::f32);
  const std::int64_t rows_held = m_.embedding.size(0);
  for (std::int64_t i = 0; i < n; ++i) {
    Tensor dst = x.select(i);
    const std::int64_t row = tokens[i] - m_.vocab_begin;
    if (row >= 0 && row < rows_held)
      k::f16_to_f32(dst, m_.embedding.select(row));
    else
      std::fill_n(dst.data<float>(), h, 0.f);
  }
  if (tp_) tp_->all_reduce_sum(std::span<float>(x.data<float>(), static_cast<std::size_t>(n * h)));
  Tensor pos = Tensor::empty({n}, DType::i32);
  std::copy(positions.begin(), positions.end(), pos.data<std::int32_t>());
  if (device_.is_cuda()) {
    x = x.to(device_);
    pos = pos.to(device_);
  }

  model::LayerContext ctx;
  ctx.B = 1;
  ctx.T = static_cast<int>(n);
  ctx.positions = &pos;
  ctx.activations = act_;
  ctx.tp = tp_;
  std::vector<model::LayerActivations> acts;
  for (int r = 0; r < shards(); ++r) {
    model::ModelShard shard;
    shard.tp_size = m_.tp;
    acts.push_back(model::LayerActivations::allocate(c, shard, 1, static_cast<int>(n), device_,
                                                     /*attention_buffer=*/false));
  }
  model::LayerScratch s;
  s.t_h = f32({n, h});
  Tensor part = shards() > 1 ? f32({n, h}) : Tensor();
  for (int l = 0; l < c.num_layers; ++l) layer_forward(l, x, acts, s, part, ctx, cache, prefix_len);
  cache.advance(static_cast<int>(n));
  if (nr == 0) return Tensor::empty({0, V}, DType::f32);

  // y = LN_final(x_N) on the requested rows; logits = y E^T                        [rows, V]
  Tensor index = Tensor::empty({nr}, DType::i32);
  for (std::int64_t i = 0; i < nr; ++i)
    index.data<std::int32_t>()[i] = static_cast<std::int32_t>(rows[i]);
  Tensor xr = f32({nr, h});
  k::gather_rows(xr, x, device_.is_cpu() ? index : index.to(device_));
  Tensor y = f32({nr, h}), mean = f32({nr}), rstd = f32({nr});
  k::layernorm_forward(y, mean, rstd, xr, final_ln_w_, final_ln_b_,
                       static_cast<float>(c.layernorm_epsilon));
  if (!tp_) {
    Tensor logits = f32({nr, V});
    k::stored_linear_forward(logits, y, head_, false);
    return device_.is_cpu() ? logits : logits.to(Device::cpu());
  }
  return gathered_logits(y);
}

// Over ranks: this rank's logits [rows, its vocabulary rows] = y E_r^T, all-gathered (each
// rank's block padded to the largest slice) and placed at its columns, so every rank holds
// the whole [rows, V] in host memory, where they are returned (NCCL stages host buffers
// through the device; a decode step's rows are a few hundred KB).
Tensor Engine::gathered_logits(const Tensor& y) const {
  const std::int64_t nr = y.size(0), V = m_.config.vocab_size;
  const int N = tp_->size();
  const std::int64_t width = (V + N - 1) / N;  // the largest vocab_slice
  const std::int64_t held = m_.embedding.size(0);
  Tensor part = Tensor::empty({nr, held}, DType::f32, device_);
  k::stored_linear_forward(part, y, head_, false);
  if (device_.is_cuda()) part = part.to(Device::cpu());  // gathered in host memory
  Tensor local = Tensor::empty({nr, width}, DType::f32);
  std::fill_n(local.data<float>(), local.numel(), 0.f);
  for (std::int64_t i = 0; i < nr; ++i)
    std::copy_n(part.data<float>() + i * held, held, local.data<float>() + i * width);
  Tensor all = Tensor::empty({N, nr, width}, DType::f32);
  tp_->all_gather(std::span<const float>(local.data<float>(), local.numel()),
                  std::span<float>(all.data<float>(), all.numel()));
  Tensor logits = Tensor::empty({nr, V}, DType::f32);
  for (int r = 0; r < N; ++r) {
    const VocabSlice vs = vocab_slice(V, N, r);
    for (std::int64_t i = 0; i < nr; ++i)
      std::copy_n(all.data<float>() + (r * nr + i) * width, vs.size(),
                  logits.data<float>() + i * V + vs.begin);
  }
  return logits;
}

void Engine::layer_forward(int l, Tensor& x, std::vector<model::LayerActivations>& acts,
                           model::LayerScratch& s, Tensor& part, const model::LayerContext& ctx,
                           KVCache& cache, int prefix_len) const {
  const std::vector<model::GLMLayer>& L = layers_[l];
  const std::vector<model::LayerWeights>& W = weights_[l];
  const int N = shards();
  auto kv = [&](int r) {
    return model::LayerCache{&cache.k(l, r), &cache.v(l, r), cache.length(), prefix_len};
  };
  // One shard here: the layer's forward exactly as training runs it (with a tensor-parallel
  // group, its all-reduce after each row-parallel linear).
  if (N == 1) {
    const model::LayerCache c0 = kv(0);
    L[0].forward(x, acts[0], s, x, W[0], ctx, &c0);
    return;
  }
  // The same steps over N shards: LN_in once, each shard's heads, the partial products
  // summed in shard order (training's all-reduce), then the replicated bias.
  Tensor& t = s.t_h;
  L[0].input_norm(acts[0], x, W[0]);
  for (int r = 0; r < N; ++r) {
    acts[r].a = acts[0].a;
    const model::LayerCache cr = kv(r);
    L[r].attention_output(r == 0 ? t : part, acts[r], W[r], ctx, &cr, false);
    if (r > 0) k::axpy(t, 1.f, part);
  }
  k::add_bias(t, W[0].dense.bias);
  L[0].attention_residual(acts[0], t, x, W[0], ctx);
  for (int r = 0; r < N; ++r) {
    acts[r].m = acts[0].m;
    L[r].mlp_output(r == 0 ? t : part, acts[r], W[r], ctx, false);
    if (r > 0) k::axpy(t, 1.f, part);
  }
  k::add_bias(t, W[0].w2.bias);
  L[0].mlp_residual(x, acts[0], t, W[0], ctx);
}

}  // namespace glm::infer
