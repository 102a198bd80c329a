#include "infer/engine.h"

#include <algorithm>

#include "core/error.h"
#include "infer/cuda_engine.h"
#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "kernels/geglu.h"
#include "kernels/layernorm.h"
#include "kernels/rope.h"

namespace glm::infer {

namespace k = glm::kernels;

namespace {
Tensor f32(Shape s) { return Tensor::empty(std::move(s), DType::f32); }

// y [n, h] += b [h] on every row (the replicated bias of a row-parallel linear)
void add_bias(Tensor& y, const Tensor& b) {
  const std::int64_t h = b.numel(), n = y.numel() / h;
  float* Y = y.data<float>();
  const float* B = b.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
#pragma omp simd
    for (std::int64_t j = 0; j < h; ++j) Y[i * h + j] += B[j];
}
}  // namespace

Engine::Engine(ModelFile model, Device device)
    : m_(std::move(model)),
      alpha_(static_cast<float>(m_.config.deepnorm_alpha())),
      device_(device) {
  if (device_.is_cuda()) cuda_ = std::make_unique<CudaEngine>(m_, device_);
}

void Engine::set_activations(kernels::QuantActivations act) {
  if (cuda_ && act != kernels::QuantActivations::fp32)
    throw InputError("int8 activations are a CPU option: the CUDA engine's linears take fp16 "
                     "activations");
  act_ = act;
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

KVCache Engine::new_cache(int capacity) const {
  if (capacity < 1)
    throw InputError(fmt::format("a KV cache of {} tokens: the capacity must be >= 1", capacity));
  if (cuda_) cuda_->check_cache_capacity(capacity);
  return KVCache(m_.config, m_.tp, capacity, device_);
}

Tensor Engine::forward(KVCache& cache, std::span<const std::int32_t> tokens,
                       std::span<const std::int32_t> positions, int prefix_len,
                       std::span<const std::int64_t> rows) const {
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  GLM_CHECK(positions.size() == tokens.size(), "forward: {} tokens, {} positions", n,
            positions.size());
  GLM_CHECK(cache.device() == device_, "forward: the KV cache is on {}, the engine on {}",
            cache.device().is_cpu() ? "cpu" : "cuda", device_.is_cpu() ? "cpu" : "cuda");
  if (cache.length() + n > cache.capacity())
    throw InputError(fmt::format("sequence of {} tokens exceeds the KV cache of {}",
                                 cache.length() + n, cache.capacity()));
  for (std::int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m_.config.vocab_size)
      throw InputError(fmt::format("token id {} at position {} is outside the vocabulary of {}",
                                   tokens[i], i, m_.config.vocab_size));
  for (std::int64_t r : rows) GLM_CHECK(r >= 0 && r < n, "forward: logit row {} of {}", r, n);
  if (cuda_) return cuda_->forward(m_, cache, tokens, positions, prefix_len, rows);
  return forward_cpu(cache, tokens, positions, prefix_len, rows);
}

Tensor Engine::forward_cpu(KVCache& cache, std::span<const std::int32_t> tokens,
                           std::span<const std::int32_t> positions, int prefix_len,
                           std::span<const std::int64_t> rows) const {
  const model::ModelConfig& c = m_.config;
  const std::int64_t n = static_cast<std::int64_t>(tokens.size()), h = c.hidden_size;
  const std::int64_t f = c.ffn_hidden_size, N = m_.tp, al = c.num_heads / N, d = c.head_dim();
  const float eps = static_cast<float>(c.layernorm_epsilon);
  const int t0 = cache.length();

  // x0 = E[tokens]                                                   [n, h]
  Tensor x = f32({n, h});
  for (std::int64_t i = 0; i < n; ++i) {
    Tensor dst = x.select(i);
    k::f16_to_f32(dst, m_.embedding.select(tokens[i]));
  }
  Tensor pos = Tensor::empty({n}, DType::i32);
  std::copy(positions.begin(), positions.end(), pos.data<std::int32_t>());

  Tensor a = f32({n, h}), hs = f32({n, h}), m = f32({n, h}), t_h = f32({n, h}), part = f32({n, h});
  Tensor mean = f32({n}), rstd = f32({n});
  Tensor qkv = f32({n, 3 * h / N}), ctx = f32({n, h / N});
  Tensor u = f32({n, 2 * f / N}), g = f32({n, f / N});
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = m_.layers[l];
    // a = LN_in(x)
    k::layernorm_forward(a, mean, rstd, x, L.ln_in_w, L.ln_in_b, eps);
    // attention: per TP rank, its heads; dense partial products summed over ranks
    for (int r = 0; r < N; ++r) {
      const RankLayerWeights& R = L.ranks[r];
      R.qkv.forward(qkv, a, &R.qkv_b, act_);  // [n, a/N, 3, d]
      Tensor heads = qkv.view({n, al, 3, d});
      k::rope_forward(heads, pos, static_cast<float>(c.rope_base));
      cached_attention(ctx, heads, cache.k(l, r), cache.v(l, r), t0, prefix_len, l + 1);
      // (with one rank the bias goes into the product, as in training)
      R.dense.forward(r == 0 ? t_h : part, ctx, N == 1 ? &L.dense_b : nullptr, act_);  // [n, h]
      if (r > 0) k::axpy(t_h, 1.f, part);
    }
    // h = alpha * a + (attn + bd);  m = LN_post(h)
    if (N > 1) add_bias(t_h, L.dense_b);
    k::residual_layernorm_forward(hs, m, mean, rstd, a, t_h, alpha_, L.ln_post_w, L.ln_post_b, eps);
    // MLP: per rank u = m W1^T + b1, g = x1 * GELU(x2), partial g W2^T; summed, + b2
    for (int r = 0; r < N; ++r) {
      const RankLayerWeights& R = L.ranks[r];
      R.w1.forward(u, m, &R.b1, act_);
      k::geglu_forward(g, u);
      R.w2.forward(r == 0 ? t_h : part, g, N == 1 ? &L.b2 : nullptr, act_);
      if (r > 0) k::axpy(t_h, 1.f, part);
    }
    if (N > 1) add_bias(t_h, L.b2);
    // out = alpha * m + mlp
    k::scaled_add(x, alpha_, m, t_h);
  }
  cache.advance(static_cast<int>(n));

  // y = LN_final(x_N) on the requested rows; logits = y E^T             [rows, V]
  const std::int64_t nr = static_cast<std::int64_t>(rows.size());
  Tensor xr = f32({nr, h});
  for (std::int64_t i = 0; i < nr; ++i) {
    std::copy_n(x.data<float>() + rows[i] * h, h, xr.data<float>() + i * h);
  }
  Tensor y = f32({nr, h}), mr = f32({nr}), rr = f32({nr});
  k::layernorm_forward(y, mr, rr, xr, m_.final_ln_w, m_.final_ln_b, eps);
  Tensor logits = f32({nr, c.vocab_size});
  k::f16_linear_forward(logits, y, m_.embedding, nullptr);
  return logits;
}

}  // namespace glm::infer
