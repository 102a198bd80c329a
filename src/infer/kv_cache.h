// The key/value cache of one sequence: per layer, the RoPE-rotated keys and the
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
#include "modeldef/model_config.h"

namespace glm::infer {

class KVCache {
 public:
  // tp: the ranks the heads are split over (1 in one process; the group's size for a rank of
  // a tensor-parallel group, whose cache then holds its own a/tp heads only).
  // dtype: f32, or f16 (half the memory; keys and values rounded once when appended).
  KVCache(const modeldef::ModelConfig& config, int tp, int capacity, Device device = Device::cpu(),
          DType dtype = DType::f32);

  int length() const { return length_; }  // tokens cached
  int capacity() const { return capacity_; }
  Device device() const { return device_; }
  void reset() { length_ = 0; }
  void advance(int n) { length_ += n; }  // after a forward appended n tokens

  Tensor& k(int layer) { return k_[layer]; }  // [a/tp, cap, d]
  Tensor& v(int layer) { return v_[layer]; }
  std::int64_t bytes() const;

 private:
  int capacity_, length_ = 0;
  Device device_;
  std::vector<Tensor> k_, v_;
};

}  // namespace glm::infer
