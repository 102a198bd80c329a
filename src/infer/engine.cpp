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
#include "core/cuda_device.h"

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
  // The model's own forward over the file's weights, uploaded once as stored (never an fp16
  // copy of a quantized weight; the CPU keeps the file's tensors). A rank of a tensor-
  // parallel group holds its own heads and GeGLU slice; one process the whole layer (a file
  // exported with --tp N has its slices joined by load_model_file).
  auto on_device = [this](const Tensor& t) { return device_.is_cpu() ? t : t.to(device_); };
  model::StoredWeights w;
  w.embedding = m_.embedding;  // looked up in host memory
  w.vocab_begin = m_.vocab_begin;
  w.head = k::LinearWeight::of(on_device(m_.embedding));
  w.final_ln_w = on_device(m_.final_ln_w);
  w.final_ln_b = on_device(m_.final_ln_b);
  for (const model::LayerWeights& l : m_.layers)
    w.layers.push_back(device_.is_cpu() ? l : l.to(device_));
  model::ModelOptions o;
  o.shard.tp_rank = std::max(m_.shard, 0);
  o.shard.tp_size = tp_split();
  o.tp = tp_;
  o.device = device_;
  model_ = std::make_unique<model::GLMModel>(m_.config, o, std::move(w));
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
  const modeldef::ModelConfig& c = m_.config;
  // K and V of the heads held
  const std::int64_t per_token =
      2 * std::int64_t{c.num_layers} * c.hidden_size * dtype_bytes(kv_, 1) / tp_split();
  const std::int64_t memory =
      static_cast<std::int64_t>(available_memory_bytes(device_)) / std::max<std::int64_t>(per_token, 1);
  const std::int64_t kernel = k::kv_attention_max_keys(device_, c.head_dim());
  return std::min({memory, kernel, std::int64_t{std::numeric_limits<int>::max()}});
}

KVCache Engine::new_cache(std::int64_t capacity) const {
  if (capacity < 1)
    throw InputError(fmt::format("a KV cache of {} tokens: the capacity must be >= 1", capacity));
  const modeldef::ModelConfig& c = m_.config;
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
        capacity * 2.0 * dtype_bytes(kv_, 1) * c.num_layers * c.hidden_size / tp_split() /
            (1 << 30),
        c.num_layers, c.hidden_size / tp_split(), dtype_name(kv_),
        static_cast<double>(available_memory_bytes(device_)) / (1 << 30), where,
        kv_ == DType::f32 ? " or use --kv-cache fp16" : ""));
  return KVCache(m_.config, tp_split(), static_cast<int>(capacity), device_, kv_);
}

Tensor Engine::forward(KVCache& cache, std::span<const std::int32_t> tokens,
                       std::span<const std::int32_t> positions, int prefix_len,
                       std::span<const std::int64_t> rows) const {
  const modeldef::ModelConfig& c = m_.config;
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
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
  Tensor tok = Tensor::empty({n}, DType::i32);  // host: the embedding is looked up there
  std::copy(tokens.begin(), tokens.end(), tok.data<std::int32_t>());
  Tensor pos = Tensor::empty({n}, DType::i32);
  std::copy(positions.begin(), positions.end(), pos.data<std::int32_t>());
  Tensor index = Tensor::empty({nr}, DType::i32);
  for (std::int64_t i = 0; i < nr; ++i)
    index.data<std::int32_t>()[i] = static_cast<std::int32_t>(rows[i]);
  if (device_.is_cuda()) {
    pos = pos.to(device_);
    index = index.to(device_);
  }
  std::vector<model::LayerCache> caches;
  for (int l = 0; l < c.num_layers; ++l)
    caches.push_back({&cache.k(l), &cache.v(l), cache.length(), prefix_len});
  Tensor logits = model_->forward_cached(tok, pos, caches, index, act_);
  cache.advance(static_cast<int>(n));
  if (nr == 0) return Tensor::empty({0, V}, DType::f32);
  if (tp_) return gathered_logits(logits);
  return device_.is_cpu() ? logits : logits.to(Device::cpu());
}

// Over ranks: this rank's logits [rows, its vocabulary rows] all-gathered (each rank's
// block padded to the largest slice) and placed at its columns, so every rank holds the
// whole [rows, V] in host memory, where they are returned (NCCL stages host buffers through
// the device; a decode step's rows are a few hundred KB).
Tensor Engine::gathered_logits(const Tensor& mine) const {
  const std::int64_t nr = mine.size(0), V = m_.config.vocab_size;
  const int N = tp_->size();
  const std::int64_t width = (V + N - 1) / N;  // the largest vocab_slice
  const std::int64_t held = m_.embedding.size(0);
  const Tensor part = device_.is_cuda() ? mine.to(Device::cpu()) : mine;  // gathered on the host
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

}  // namespace glm::infer
