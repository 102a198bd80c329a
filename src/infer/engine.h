// The inference engine: an exported model file run through the model's own forward
// (model::GLMModel over StoredWeights: its embedding, GLMLayer forward and tied head, no
// dropout), with a KV cache for prefill and decode, on the CPU or a GPU. Per call:
//
//   x_0 = E[tokens];  x_{l+1} = GLMLayer l (x_l) attending to the cache (kernels/kv_attention.h)
//   logits = LN_final(x_N) E^T  (tied fp16 embedding)
//
// The linears run as stored (kernels/stored_linear.h): fp16 or INT8/INT4 weights with fp32
// activations on the CPU (fused kernels of kernels/quant.h); on CUDA the weights are
// uploaded once as stored, the residual stream, LayerNorms, softmax and the KV cache stay
// fp32 on the device, and each linear reads its input converted to fp16. Logits come back
// to the host as fp32 either way.
// A file exported with --tp N runs either on N ranks (mpirun -n N, a tensor-parallel group
// `tp`): each rank loads its own shard (load_model_file(path, rank)) and runs the layer's
// own forward with that group (MPI on the CPU; NCCL on CUDA, one GPU per rank), one
// all-reduce after each row-parallel linear as in training,
// its KV cache holding its own heads. The embedding and the tied head are vocabulary-
// parallel (infer/model_file.h vocab_slice): each rank looks up the tokens among its rows
// and one all-reduce sums x_0; each computes the logits of its rows and an all-gather gives
// every rank the whole row, so every rank samples the same token. The LayerNorms are
// replicated. In one process the same file runs as the whole model: load_model_file joins
// its N slices of each linear as stored, so every layer runs the one plain forward.
//
//   Engine eng(load_model_file("model.h5"), Device::cuda());   // or Device::cpu()
//   KVCache cache = eng.new_cache(256);                        // on the engine's device
//   Tensor logits = eng.forward(cache, tokens, positions, prefix_len, {last_row});
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "infer/kv_cache.h"
#include "infer/model_file.h"
#include "model/glm_model.h"
#include "parallel/communicator.h"

namespace glm::infer {

class Engine {
 public:
  // device: Device::cpu(), or a CUDA device (InputError when the build lacks CUDA).
  // tp: this rank's tensor-parallel group, whose size must be the file's tp and whose rank
  // the shard it was loaded with (InputError otherwise); on CUDA it must take device memory
  // (NCCL). Null: one process holds every shard.
  explicit Engine(ModelFile model, Device device = Device::cpu(),
                  parallel::Communicator* tp = nullptr);

  const ModelFile& model() const { return m_; }
  const modeldef::ModelConfig& config() const { return m_.config; }
  Device device() const { return device_; }
  // The tensor-parallel group it runs with (null: one process).
  parallel::Communicator* tp_group() const { return tp_; }
  // How the CPU's INT8/INT4 linears take their input: fp32 (exact, the default) or int8
  // (x rounded per block of 32, integer dot products on AVX-512 VNNI: the fastest decode,
  // within the rounding bound of kernels/quant.h). InputError on a CUDA engine, whose
  // linears take fp16 activations.
  void set_activations(kernels::QuantActivations act);
  kernels::QuantActivations activations() const { return act_; }
  // The dtype new caches store keys and values in: f32 (the default) or f16 (half the
  // memory, each key and value rounded once; what GLM-130B's serving on 8 x 2080 Ti
  // assumes). InputError for any other.
  void set_kv_cache(DType t);
  DType kv_cache() const { return kv_; }
  // The most tokens a KV cache on the engine's device can hold now: the attention kernel's
  // limit (CUDA) and the memory available for the cache (2 x layers x h x 4 or 2 bytes a
  // token, of the heads held).
  std::int64_t max_cache_tokens() const;
  // A cache on the engine's device; InputError when `capacity` exceeds max_cache_tokens().
  KVCache new_cache(std::int64_t capacity) const;

  // Runs tokens (with their RoPE positions) through the model, appending them to the
  // cache after its current length. prefix_len is the sequence's GLM prefix P in cache
  // indices (keys < P are visible to every query); the prefix must arrive in one call.
  // Returns logits f32 [rows.size(), V] in host memory for the given rows (indices into
  // `tokens`).
  Tensor forward(KVCache& cache, std::span<const std::int32_t> tokens,
                 std::span<const std::int32_t> positions, int prefix_len,
                 std::span<const std::int64_t> rows) const;

 private:
  // The logits [rows, V] over ranks from this rank's [rows, its vocabulary rows], gathered.
  Tensor gathered_logits(const Tensor& mine) const;

  // The ranks the heads and GeGLU are split over: the group's size, or 1 in one process.
  int tp_split() const { return m_.shard >= 0 ? m_.tp : 1; }

  ModelFile m_;  // the file as read (host): the embedding rows are looked up in it
  parallel::Communicator* tp_ = nullptr;
  Device device_;
  kernels::QuantActivations act_ = kernels::QuantActivations::fp32;
  DType kv_ = DType::f32;
  // The model over the file's weights on device_ (on the CPU: the file's own tensors).
  std::unique_ptr<model::GLMModel> model_;
};

}  // namespace glm::infer
