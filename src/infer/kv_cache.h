// The key/value cache of one sequence: per layer and TP rank, the RoPE-rotated keys and the
// values of every token seen so far, fp32 or fp16 [a/N, capacity, d] (head-major, so a head's keys
// are contiguous for the score loop), in host memory or on the CUDA device of the engine
// that made it (Engine::new_cache). The layers attend to it with kernels/kv_attention.h.
// The sequence's GLM prefix length P (bidirectional context) is passed with every forward
// call.
//
//   KVCache cache(config, /*tp=*/1, /*capacity=*/512);
//   engine.forward(cache, prompt, positions, P, ...);   // appends the prompt
//   engine.forward(cache, {next}, {pos}, P, ...);        // one decode step
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "spec/model_config.h"

namespace glm::infer {

class KVCache {
 public:
  // shards: how many of the tp shards this process holds (tp in one process; 1 for a rank of
  // a tensor-parallel group, whose cache then holds its own heads only).
  // dtype: f32, or f16 (half the memory; keys and values rounded once when appended).
  KVCache(const model::ModelConfig& config, int tp, int capacity, Device device = Device::cpu(),
          int shards = -1, DType dtype = DType::f32);

  int length() const { return length_; }  // tokens cached
  int capacity() const { return capacity_; }
  Device device() const { return device_; }
  void reset() { length_ = 0; }
  void advance(int n) { length_ += n; }  // after a forward appended n tokens

  // shard: 0 .. shards-1 of the ones held
  Tensor& k(int layer, int shard) { return k_[layer * shards_ + shard]; }  // [a/N, cap, d]
  Tensor& v(int layer, int shard) { return v_[layer * shards_ + shard]; }
  std::int64_t bytes() const;

 private:
  int shards_, capacity_, length_ = 0;
  Device device_;
  std::vector<Tensor> k_, v_;
};

}  // namespace glm::infer
