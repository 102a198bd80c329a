// Attention of new queries against a key/value cache on a CUDA device: the GPU side of
// infer::cached_attention (src/infer/kv_cache.h), the attention step of decoding.
//
//   K, V [a, cap, d] f32 (device): rows [t0, t0+n) of every head <- k, v of qkv
//   ctx_i = sum_j softmax_j(c * (q_i . k_j) / (sqrt(d) c)) v_j   over allowed keys j
//   GLM mask: key j is allowed for query i (cache index t0 + i) iff j < P or j <= t0 + i
// qkv [n, a, 3, d] f32 after RoPE; ctx [n, a*d] f32 or f16 (the input of the dense linear);
// layer_number c = l + 1 is training's query-key layer scaling (a no-op up to rounding).
// Work goes on the current stream (kernels/cuda/cuda_stream.h). One block per (query, head)
// keeps the scores of all t0 + n visible keys in shared memory, so a cache is limited to
// kv_attention_max_keys(d) tokens (about 58000 on an H100 at d = 64).
//
//   kv_cache_attention(ctx16, qkv, K, V, /*t0=*/cache_len, /*P=*/prefix, /*c=*/l + 1);
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels::cuda {

// Appends this call's keys and values to K, V, then writes ctx. The prefix [0, P) must
// arrive in one call (t0 >= P or t0 + n >= P) and t0 + n <= cap: glm::Error otherwise.
void kv_cache_attention(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                        int prefix_len, int layer_number);

// The most cached keys one (query, head) block can hold the scores of, for head dim d on
// the current device.
std::int64_t kv_attention_max_keys(std::int64_t d);

}  // namespace glm::kernels::cuda
