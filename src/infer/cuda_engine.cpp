// The CUDA inference forward (infer/cuda_engine.h): device weights, then the layer loop of
// Engine::forward_cpu with device tensors. Compiled in every build; without CUDA only the
// refusing constructor exists.
#include "infer/cuda_engine.h"

#include "core/allocator.h"
#include "core/error.h"

#ifdef GLM_WITH_CUDA
#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "kernels/convert.h"
#include "kernels/cuda/cuda_convert.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_stream.h"
#include "kernels/cuda/kv_attention.h"
#include "kernels/cuda/quant_gemm.h"
#include "kernels/elementwise.h"
#include "kernels/geglu.h"
#include "kernels/layernorm.h"
#include "kernels/rope.h"
#endif

namespace glm::infer {

#ifdef GLM_WITH_CUDA

namespace k = glm::kernels;
namespace kc = glm::kernels::cuda;

namespace {

// One linear on the device, as stored, with its bias (if it has one) in both precisions.
struct DeviceLinear {
  int bits = 16;
  Tensor f16;             // bits 16: f16 [out, in]
  k::QuantWeight q;       // bits 8 / 4: q and scales on the device
  bool has_bias = false;  // b16 f16 [out] (fused kernels), b32 f32 [out] (cuBLASLt epilogue)
  Tensor b16, b32;

  std::int64_t bytes() const {
    const std::int64_t w = bits == 16 ? static_cast<std::int64_t>(f16.nbytes()) : q.weight_bytes();
    return w + (has_bias ? static_cast<std::int64_t>(b16.nbytes() + b32.nbytes()) : 0);
  }

  // y f32 [n, out] = x16 f16 [n, in] W^T (+ b when add_bias)
  void forward(Tensor& y, const Tensor& x16, bool add_bias) const {
    const bool bias = add_bias && has_bias;
    const std::int64_t n = x16.size(0);
    if (n == 0) return;
    if (bits == 16 && n > 1) {  // fp16 weights, several rows: cuBLASLt, fp32 accumulation
      kc::LtGemmArgs g;
      g.trans_b = k::Trans::T;
      g.M = n;
      g.N = f16.size(0);
      g.K = f16.size(1);
      g.ab_type = DType::f16;
      g.c_type = DType::f32;
      g.A = x16.raw();
      g.lda = g.K;
      g.B = f16.raw();
      g.ldb = g.K;
      g.C = y.raw();
      g.ldc = g.N;
      g.bias = bias ? b32.raw() : nullptr;
      kc::gemm_lt(g);
    } else if (bits == 16) {
      kc::f16_linear_forward(y, x16, f16, bias ? &b16 : nullptr, kc::current_stream());
    } else {
      kc::quant_linear_forward(y, x16, q, bias ? &b16 : nullptr, kc::current_stream());
    }
  }
};

// f32 host [out] -> f16 on the device (the values came from fp16: exact)
Tensor device_f16(const Tensor& host_f32, Device dev) {
  Tensor h = Tensor::empty(host_f32.shape(), DType::f16);
  k::f32_to_f16(h, host_f32);
  return h.to(dev);
}

DeviceLinear upload(const LinearWeight& w, const Tensor* bias, Device dev) {
  DeviceLinear d;
  d.bits = w.bits;
  if (w.bits == 16) {
    d.f16 = w.f16.to(dev);
  } else {
    d.q.bits = w.q.bits;
    d.q.out = w.q.out;
    d.q.in = w.q.in;
    d.q.group = w.q.group;
    d.q.q = w.q.q.to(dev);
    d.q.scales = w.q.scales.to(dev);
  }
  if (bias) {
    d.has_bias = true;
    d.b16 = device_f16(*bias, dev);
    d.b32 = bias->to(dev);
  }
  return d;
}

Tensor dev_f32(Shape s, Device dev) { return Tensor::empty(std::move(s), DType::f32, dev); }
Tensor dev_f16(Shape s, Device dev) { return Tensor::empty(std::move(s), DType::f16, dev); }

void use_device(Device dev) { kc::check(cudaSetDevice(dev.index), "cudaSetDevice"); }

}  // namespace

struct CudaEngine::Weights {
  struct Rank {
    // qkv, w1: column-parallel with their bias slices; dense, w2: row-parallel, the
    // replicated bias (dense_b, b2) added by rank 0 only, so the sum over ranks has it once
    DeviceLinear qkv, dense, w1, w2;
  };
  struct Layer {
    Tensor ln_in_w, ln_in_b, ln_post_w, ln_post_b;  // f32 [h]
    std::vector<Rank> ranks;
  };
  Tensor embedding;               // f16 [V, h]
  Tensor final_ln_w, final_ln_b;  // f32 [h]
  std::vector<Layer> layers;
};

CudaEngine::CudaEngine(const ModelFile& m, Device device)
    : device_(device), head_dim_(m.config.head_dim()) {
  GLM_CHECK(device.is_cuda(), "CudaEngine on {}", device.is_cpu() ? "cpu" : "?");
  if (cuda_device_count() <= device.index)
    throw InputError(
        fmt::format("{}: cannot run on cuda:{}: no CUDA device present", m.path, device.index));
  use_device(device);
  w_ = std::make_unique<Weights>();
  w_->embedding = m.embedding.to(device);
  w_->final_ln_w = m.final_ln_w.to(device);
  w_->final_ln_b = m.final_ln_b.to(device);
  for (const LayerWeights& L : m.layers) {
    Weights::Layer D;
    D.ln_in_w = L.ln_in_w.to(device);
    D.ln_in_b = L.ln_in_b.to(device);
    D.ln_post_w = L.ln_post_w.to(device);
    D.ln_post_b = L.ln_post_b.to(device);
    for (const RankLayerWeights& R : L.ranks) {
      Weights::Rank r;
      r.qkv = upload(R.qkv, &R.qkv_b, device);
      r.dense = upload(R.dense, &L.dense_b, device);
      r.w1 = upload(R.w1, &R.b1, device);
      r.w2 = upload(R.w2, &L.b2, device);
      D.ranks.push_back(std::move(r));
    }
    w_->layers.push_back(std::move(D));
  }
}

CudaEngine::~CudaEngine() = default;

std::int64_t CudaEngine::device_bytes() const {
  std::int64_t n = static_cast<std::int64_t>(w_->embedding.nbytes() + w_->final_ln_w.nbytes() +
                                             w_->final_ln_b.nbytes());
  for (const auto& L : w_->layers) {
    n += static_cast<std::int64_t>(4 * L.ln_in_w.nbytes());
    for (const auto& r : L.ranks)
      n += r.qkv.bytes() + r.dense.bytes() + r.w1.bytes() + r.w2.bytes();
  }
  return n;
}

void CudaEngine::check_cache_capacity(int capacity) const {
  use_device(device_);
  const std::int64_t max_keys = kc::kv_attention_max_keys(head_dim_);
  if (capacity > max_keys)
    throw InputError(fmt::format(
        "a KV cache of {} tokens exceeds the {} the CUDA attention kernel holds at head dim {} "
        "on {}; generate fewer tokens or use --device cpu",
        capacity, max_keys, head_dim_, kc::device_description(device_.index)));
}

Tensor CudaEngine::forward(const ModelFile& mf, KVCache& cache,
                           std::span<const std::int32_t> tokens,
                           std::span<const std::int32_t> positions, int prefix_len,
                           std::span<const std::int64_t> rows) const {
  const model::ModelConfig& c = mf.config;
  const Device dev = device_;
  const std::int64_t n = static_cast<std::int64_t>(tokens.size()), h = c.hidden_size;
  const std::int64_t f = c.ffn_hidden_size, N = mf.tp, al = c.num_heads / N, d = c.head_dim();
  const std::int64_t V = c.vocab_size, nr = static_cast<std::int64_t>(rows.size());
  const float eps = static_cast<float>(c.layernorm_epsilon);
  const float alpha = static_cast<float>(c.deepnorm_alpha());
  const int t0 = cache.length();
  GLM_CHECK(cache.device() == dev, "CudaEngine::forward: the cache is not on cuda:{}", dev.index);
  if (n == 0) return Tensor::empty({0, V}, DType::f32);  // rows is empty too (checked)
  use_device(dev);

  // x0 = E[tokens]: rows gathered from the host copy, fp16 -> fp32, uploaded        [n, h]
  Tensor x0 = Tensor::empty({n, h}, DType::f32);
  for (std::int64_t i = 0; i < n; ++i) {
    Tensor dst = x0.select(i);
    k::f16_to_f32(dst, mf.embedding.select(tokens[i]));
  }
  Tensor x = x0.to(dev);
  Tensor pos_host = Tensor::empty({n}, DType::i32);
  std::copy(positions.begin(), positions.end(), pos_host.data<std::int32_t>());
  const Tensor pos = pos_host.to(dev);

  Tensor a = dev_f32({n, h}, dev), hs = dev_f32({n, h}, dev), m = dev_f32({n, h}, dev);
  Tensor t_h = dev_f32({n, h}, dev), part = dev_f32({n, h}, dev);
  Tensor a16 = dev_f16({n, h}, dev), m16 = dev_f16({n, h}, dev);
  Tensor mean = dev_f32({n}, dev), rstd = dev_f32({n}, dev);
  Tensor qkv = dev_f32({n, 3 * h / N}, dev), ctx16 = dev_f16({n, h / N}, dev);
  Tensor u = dev_f32({n, 2 * f / N}, dev), g = dev_f32({n, f / N}, dev);
  Tensor g16 = dev_f16({n, f / N}, dev);
  for (int l = 0; l < c.num_layers; ++l) {
    const Weights::Layer& L = w_->layers[l];
    // a = LN_in(x)
    k::layernorm_forward(a, mean, rstd, x, L.ln_in_w, L.ln_in_b, eps);
    k::f32_to_f16(a16, a);
    // attention: per TP rank, its heads; dense partial products summed over ranks
    for (int r = 0; r < N; ++r) {
      const Weights::Rank& R = L.ranks[r];
      R.qkv.forward(qkv, a16, true);  // [n, a/N, 3, d]
      Tensor heads = qkv.view({n, al, 3, d});
      k::rope_forward(heads, pos, static_cast<float>(c.rope_base));
      kc::kv_cache_attention(ctx16, heads, cache.k(l, r), cache.v(l, r), t0, prefix_len, l + 1);
      R.dense.forward(r == 0 ? t_h : part, ctx16, r == 0);  // [n, h] (+ bd once)
      if (r > 0) k::axpy(t_h, 1.f, part);
    }
    // h = alpha * a + (attn + bd);  m = LN_post(h)
    k::residual_layernorm_forward(hs, m, mean, rstd, a, t_h, alpha, L.ln_post_w, L.ln_post_b, eps);
    k::f32_to_f16(m16, m);
    // MLP: per rank u = m W1^T + b1, g = x1 * GELU(x2), partial g W2^T; summed, + b2 once
    for (int r = 0; r < N; ++r) {
      const Weights::Rank& R = L.ranks[r];
      R.w1.forward(u, m16, true);
      k::geglu_forward(g, u);
      k::f32_to_f16(g16, g);
      R.w2.forward(r == 0 ? t_h : part, g16, r == 0);
      if (r > 0) k::axpy(t_h, 1.f, part);
    }
    // out = alpha * m + mlp
    k::scaled_add(x, alpha, m, t_h);
  }
  cache.advance(static_cast<int>(n));
  if (nr == 0) return Tensor::empty({0, V}, DType::f32);

  // y = LN_final(x_N) on the requested rows; logits = y E^T                        [rows, V]
  bool all_rows = nr == n;
  for (std::int64_t i = 0; all_rows && i < nr; ++i) all_rows = rows[i] == i;
  Tensor xr = x;
  if (!all_rows) {
    Tensor idx_host = Tensor::empty({nr}, DType::i32);
    for (std::int64_t i = 0; i < nr; ++i)
      idx_host.data<std::int32_t>()[i] = static_cast<std::int32_t>(rows[i]);
    xr = dev_f32({nr, h}, dev);
    k::gather_rows(xr, x, idx_host.to(dev));
  }
  Tensor y = dev_f32({nr, h}, dev), mr = dev_f32({nr}, dev), rr = dev_f32({nr}, dev);
  k::layernorm_forward(y, mr, rr, xr, w_->final_ln_w, w_->final_ln_b, eps);
  Tensor y16 = dev_f16({nr, h}, dev);
  k::f32_to_f16(y16, y);
  Tensor logits = dev_f32({nr, V}, dev);
  DeviceLinear head;  // the tied embedding as an fp16 linear without bias (a view, no copy)
  head.f16 = w_->embedding;
  head.forward(logits, y16, false);
  kc::check(cudaStreamSynchronize(kc::current_stream()), "inference forward");
  return logits.to(Device::cpu());
}

#else  // !GLM_WITH_CUDA

struct CudaEngine::Weights {};

CudaEngine::CudaEngine(const ModelFile& m, Device) {
  throw InputError(fmt::format(
      "{}: cannot run on CUDA: this build lacks CUDA (configured with GLM_CUDA=OFF or without "
      "nvcc); use the CPU",
      m.path));
}
CudaEngine::~CudaEngine() = default;
void CudaEngine::check_cache_capacity(int) const {}
Tensor CudaEngine::forward(const ModelFile&, KVCache&, std::span<const std::int32_t>,
                           std::span<const std::int32_t>, int,
                           std::span<const std::int64_t>) const {
  throw Error("CudaEngine::forward: this build lacks CUDA");
}
std::int64_t CudaEngine::device_bytes() const { return 0; }

#endif

}  // namespace glm::infer
