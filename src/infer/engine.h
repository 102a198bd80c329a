// The inference engine: the GLM forward of training (DESIGN.md section 2, no dropout) over
// an exported model file, with a KV cache for prefill and decode, on the CPU or a GPU.
//
//   a   = LN_in(x);  qkv = a Wqkv^T + b;  RoPE(q, k);  ctx = Attn(q, K, V) (GLM mask)
//   h   = alpha * a + (ctx Wd^T + bd);    m = LN_post(h)
//   out = alpha * m + W2 (x1 * GELU(x2)) + b2,   [x1 x2] = m W1^T + b1
//   logits = LN_final(x_N) E^T  (tied fp16 embedding)
// CPU: activations are fp32; linears use the fused fp16 / INT8 / INT4 kernels
// (kernels/quant.h). CUDA (infer/cuda_engine.h): the weights are uploaded once as stored
// (packed INT8/INT4 + fp16 scales, or fp16), the residual stream, LayerNorms, softmax and
// the KV cache stay fp32 on the device, and each linear reads its input rounded to fp16
// (the CUDA kernels' x is fp16). Logits come back to the host as fp32 either way.
// A file exported with --tp N is run as its N tensor-parallel ranks one after another in
// this process: column-parallel outputs stay per rank, row-parallel partial products are
// summed (the all-reduce) before the replicated bias.
//
//   Engine eng(load_model_file("model.h5"), Device::cuda());   // or Device::cpu()
//   KVCache cache = eng.new_cache(256);                        // on the engine's device
//   Tensor logits = eng.forward(cache, tokens, positions, prefix_len, {last_row});
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "infer/kv_cache.h"
#include "infer/model_file.h"

namespace glm::infer {

class CudaEngine;

class Engine {
 public:
  // device: Device::cpu(), or a CUDA device (InputError when the build lacks CUDA).
  explicit Engine(ModelFile model, Device device = Device::cpu());
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  const ModelFile& model() const { return m_; }
  const model::ModelConfig& config() const { return m_.config; }
  Device device() const { return device_; }
  // How the CPU's INT8/INT4 linears take their input: fp32 (exact, the default) or int8
  // (x rounded per block of 32, integer dot products on AVX-512 VNNI: the fastest decode,
  // within the rounding bound of kernels/quant.h). InputError on a CUDA engine, whose
  // linears take fp16 activations.
  void set_activations(kernels::QuantActivations act);
  kernels::QuantActivations activations() const { return act_; }
  // A cache on the engine's device; InputError when a CUDA cache cannot hold `capacity`.
  KVCache new_cache(int capacity) const;

  // Runs tokens (with their RoPE positions) through the model, appending them to the
  // cache after its current length. prefix_len is the sequence's GLM prefix P in cache
  // indices (keys < P are visible to every query); the prefix must arrive in one call.
  // Returns logits f32 [rows.size(), V] in host memory for the given rows (indices into
  // `tokens`).
  Tensor forward(KVCache& cache, std::span<const std::int32_t> tokens,
                 std::span<const std::int32_t> positions, int prefix_len,
                 std::span<const std::int64_t> rows) const;

 private:
  Tensor forward_cpu(KVCache& cache, std::span<const std::int32_t> tokens,
                     std::span<const std::int32_t> positions, int prefix_len,
                     std::span<const std::int64_t> rows) const;

  ModelFile m_;
  float alpha_;
  Device device_;
  kernels::QuantActivations act_ = kernels::QuantActivations::fp32;
  std::unique_ptr<CudaEngine> cuda_;  // the device weights (CUDA engines only)
};

}  // namespace glm::infer
