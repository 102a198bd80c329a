// Raw-pointer launchers of the KV-cache attention kernels (kv_attention_kernels.cu), the
// device side of inference decoding (kernels/cuda/kv_attention.h has the math and the
// Tensor-level checks). Plain C++ plus CUDA runtime types, so g++ and nvcc both read it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace glm::kernels::cuda {

struct KvAttentionParams {
  const float* qkv = nullptr;  // [n, a, 3, d] this call's queries/keys/values after RoPE
  void* K = nullptr;           // [a, cap, d] cached keys (rows [t0, t0+n) written here)
  void* V = nullptr;           // [a, cap, d] cached values
  bool half_kv = false;        // K and V hold fp16 (else fp32)
  float* ctx = nullptr;        // [n, a*d]
  int n = 0, a = 0, d = 0, cap = 0;
  int t0 = 0;          // cache index of the first new token
  int prefix_len = 0;  // P: keys j < P are visible to every query
  float inv = 1.f;     // 1 / (sqrt(d) * c)
  float c = 1.f;       // layer scaling c = l + 1 (scores are (q . k) * inv * c)
};

inline constexpr int kKvAttentionThreads = 128;  // 4 warps per (query, head) block

// Dynamic shared memory of one attention block: q [d], reduction scratch [32], the scores
// of up to `keys` cached keys.
constexpr std::int64_t kv_attention_smem_bytes(std::int64_t d, std::int64_t keys) {
  return 4 * (d + 32 + keys);
}

// K, V rows [t0, t0+n) of every head = the k and v of qkv.
cudaError_t launch_kv_cache_append(const KvAttentionParams& p, cudaStream_t s);
// ctx = masked softmax attention of the n queries over cached keys [0, t0+n); the cache
// must already hold this call's keys (launch_kv_cache_append first, on the same stream).
cudaError_t launch_kv_attention(const KvAttentionParams& p, cudaStream_t s);

}  // namespace glm::kernels::cuda
