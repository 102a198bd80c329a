// KV-cache attention kernels for inference, then their launchers.
// Math and mask of kernels/kv_attention.h (the CPU backend computes the same):
//   s_j   = c * (q . k_j) / (sqrt(d) c)             j < glm_mask_limit(t0+i, P, t0+n)
//   ctx_i = sum_j softmax_j(s) v_j                     fp32 throughout
// Written for clarity: one block per (query, head); a warp per key for the scores (lanes
// over d: coalesced reads of one cached key row), the scores of every visible key in shared
// memory, block reductions for max and sum, then a thread per output dimension sums over
// the keys (consecutive threads read consecutive elements of a value row). Decode has one
// query, so its cost is one pass over the cached K and V of each head.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/kv_attention_launch.h"
#include "kernels/cuda/launch_config.h"
#include "kernels/glm_mask.h"

namespace glm::kernels::cuda {
namespace {

// The cache holds fp32 or fp16 (rounded on append, read back as fp32).
__device__ inline float kv_load(const float* p) { return *p; }
__device__ inline float kv_load(const __half* p) { return __half2float(*p); }
__device__ inline void kv_store(float* p, float v) { *p = v; }
__device__ inline void kv_store(__half* p, float v) { *p = __float2half_rn(v); }

// K[h][t0+i][:] = k of qkv row (i, h), V likewise: one thread per element.
template <class KV>
__global__ void kv_cache_append_grid_stride(KV* __restrict__ K, KV* __restrict__ V,
                                            const float* __restrict__ qkv, int n, int a, int d,
                                            int cap, int t0) {
  const long total = static_cast<long>(n) * a * d;
  for (long t = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<long>(gridDim.x) * blockDim.x) {
    const int e = static_cast<int>(t % d);
    const long row = t / d;  // i * a + h
    const int h = static_cast<int>(row % a), i = static_cast<int>(row / a);
    const float* src = qkv + row * 3 * d;  // [q | k | v] of (i, h)
    const long dst = (static_cast<long>(h) * cap + t0 + i) * d + e;
    kv_store(K + dst, src[d + e]);
    kv_store(V + dst, src[2 * d + e]);
  }
}

__device__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum / max; every thread gets the result. red: 32 floats of shared memory. The
// leading barrier also orders the caller's earlier shared-memory writes before the reads
// that follow.
__device__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  return warp_sum(lane < warps ? red[lane] : 0.f);
}
__device__ float block_max(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  return warp_max(lane < warps ? red[lane] : -INFINITY);
}

__device__ void store(float* p, float v) { *p = v; }

// grid (a, n): block (h, i) computes ctx row i, head h. Shared memory: q [d], red [32],
// p [t0 + n] (the scores, then the unnormalised probabilities).
template <class Out, class KV>
__global__ void kv_attention_block_per_query_head(Out* __restrict__ ctx,
                                                  const float* __restrict__ qkv,
                                                  const KV* __restrict__ K,
                                                  const KV* __restrict__ V, int a, int d,
                                                  int cap, int t0, int prefix_len, float inv,
                                                  float c) {
  extern __shared__ float smem[];
  float* q = smem;
  float* red = q + d;
  float* p = red + 32;
  const int h = blockIdx.x, i = blockIdx.y;
  // keys [0, keys) are visible; the cache holds t0 + n keys (n = gridDim.y)
  const int keys = static_cast<int>(glm_mask_limit(t0 + i, prefix_len, t0 + gridDim.y));
  const long row = static_cast<long>(i) * a + h;
  for (int e = threadIdx.x; e < d; e += blockDim.x) q[e] = qkv[row * 3 * d + e];
  __syncthreads();

  const KV* Kh = K + static_cast<long>(h) * cap * d;
  const KV* Vh = V + static_cast<long>(h) * cap * d;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = blockDim.x / kWarp;
  // s_j = (q . k_j) * inv * c: q / (sqrt(d) c) in the product, times c in the fp32 softmax
  for (int j = warp; j < keys; j += warps) {
    const KV* k = Kh + static_cast<long>(j) * d;
    float s = 0.f;
    for (int e = lane; e < d; e += kWarp) s += q[e] * kv_load(k + e);
    s = warp_sum(s);
    if (lane == 0) p[j] = s * inv * c;
  }
  __syncthreads();
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < keys; j += blockDim.x) mx = fmaxf(mx, p[j]);
  mx = block_max(mx, red);
  float sum = 0.f;
  for (int j = threadIdx.x; j < keys; j += blockDim.x) {
    const float e = expf(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  sum = block_sum(sum, red);  // its leading barrier publishes p
  const float r = 1.f / sum;
  for (int e = threadIdx.x; e < d; e += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < keys; ++j) acc += p[j] * kv_load(Vh + static_cast<long>(j) * d + e);
    store(ctx + row * d + e, acc * r);
  }
}

}  // namespace

cudaError_t launch_kv_cache_append(const KvAttentionParams& p, cudaStream_t s) {
  const long total = static_cast<long>(p.n) * p.a * p.d;
  if (total == 0) return cudaSuccess;
  if (p.half_kv)
    kv_cache_append_grid_stride<<<grid_stride_blocks(total, 256), 256, 0, s>>>(
        static_cast<__half*>(p.K), static_cast<__half*>(p.V), p.qkv, p.n, p.a, p.d, p.cap, p.t0);
  else
    kv_cache_append_grid_stride<<<grid_stride_blocks(total, 256), 256, 0, s>>>(
        static_cast<float*>(p.K), static_cast<float*>(p.V), p.qkv, p.n, p.a, p.d, p.cap, p.t0);
  return cudaGetLastError();
}

cudaError_t launch_kv_attention(const KvAttentionParams& p, cudaStream_t s) {
  if (p.n == 0 || p.a == 0) return cudaSuccess;
  const std::int64_t bytes = kv_attention_smem_bytes(p.d, static_cast<std::int64_t>(p.t0) + p.n);
  const dim3 grid(p.a, p.n);
  auto launch = [&](auto kernel, auto* out, auto* K, auto* V) {
    if (bytes > 48 * 1024) {  // above the default limit a kernel must opt in
      const cudaError_t e = cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
      if (e != cudaSuccess) return e;
    }
    kernel<<<grid, kKvAttentionThreads, bytes, s>>>(out, p.qkv, K, V, p.a, p.d, p.cap, p.t0,
                                                    p.prefix_len, p.inv, p.c);
    return cudaGetLastError();
  };
  if (p.half_kv)
    return launch(kv_attention_block_per_query_head<float, __half>, p.ctx,
                  static_cast<const __half*>(p.K), static_cast<const __half*>(p.V));
  return launch(kv_attention_block_per_query_head<float, float>, p.ctx,
                static_cast<const float*>(p.K), static_cast<const float*>(p.V));
}

}  // namespace glm::kernels::cuda
