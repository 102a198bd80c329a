// Attention of new queries against a key/value cache: what inference adds to the model's
// attention (model/glm_layer.h runs it in place of attention_forward when the layer context
// carries a cache). One call appends the keys and values of n new tokens to the cache, then
// attends their queries to every cached key the GLM mask allows (kernels/glm_mask.h, with i
// the query's cache index and L = t0 + n):
//
//   K, V [a, cap, d] f32 or f16 (rounded on append, read back in fp32): rows [t0, t0+n)
//   of every head <- the k, v of qkv
//   ctx_i = sum_j softmax_j(c * (q_i . k_j) / (sqrt(d) c)) v_j    over allowed keys j
//
// qkv [n, a, 3, d] f32 after RoPE; ctx [n, a*d] f32. layer_number c = l + 1 is training's
// query-key layer scaling (mathematically a no-op, kept so that rounding follows training).
// The prefix [0, P) must arrive in one call (t0 >= P or t0 + n >= P) and t0 + n <= cap.
// Entry kernels/kv_attention.cpp; backends kernels/cpu/kv_attention.cpp and
// kernels/cuda/kv_attention.cpp (one block per (query, head) holding the scores of every visible key in shared memory, so a CUDA cache
// is limited to kv_attention_max_keys tokens).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels {

void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number);

// The most tokens a cache on `dev` can hold at head dim d (the CPU has no limit of its own).
std::int64_t kv_attention_max_keys(Device dev, std::int64_t d);

}  // namespace glm::kernels
