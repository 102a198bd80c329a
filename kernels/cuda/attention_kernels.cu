// Attention kernels, then launchers (math and mask in kernels/attention.h).
//
// Flash-style fused path (FlashAttention's tiling, written for fp32 activations on CUDA
// cores): a block holds kFlashWarps rows, one per warp; tiles of the other side (keys in
// forward and dQ, queries in dK/dV) are staged in shared memory, and every lane owns
// `per_lane` of the tile's columns. Scores come from a transposed tile ([d][tile]) read as
// float2/float4 per lane (conflict-free); the products with V, K or Q read a row-major tile
// where the 32 lanes cover 32 consecutive head dims. The forward keeps a running max and sum
// per query (online softmax) and stores only the log-sum-exp; the backward recomputes the
// probabilities from it. No T x T matrix ever reaches global memory.
// Dropout on the probabilities uses the same Philox draw as kernels/cpu/dropout.cpp at the
// same coordinates (row (sample, head, query), column key), so masks equal the CPU's.
// qkv, dctx, ctx and dqkv are read and written as stored (fp32, fp16 or bf16): tiles are
// staged to fp32 shared memory and each output is rounded once. What is not done yet:
// tensor-core (mma) tiles; see README (CUDA backend).
//
// Unfused path pieces: a masked softmax over rows of materialised scores (warp per row) and
// its backward with the dropout of dP fused in; the GEMMs are cuBLAS (cuda_attention.cpp).
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_launch.h"
#include "kernels/cuda/dropout_device.cuh"
#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/glm_mask.h"

namespace glm::kernels::cuda {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int W = kFlashWarps;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
  return v;
}

// Query i attends keys j < row_limit(i) (kernels/glm_mask.h).
__device__ __forceinline__ std::int64_t row_limit(std::int64_t i, std::int64_t P, std::int64_t L) {
  return glm_mask_limit(i, P, L);
}
__device__ __forceinline__ std::int64_t clamp_len(std::int32_t v, std::int64_t T) {
  return v < 0 ? 0 : (v > T ? T : v);
}

// n consecutive floats from shared memory (16-byte aligned for n = 4, 8 for n = 2).
template <int N>
__device__ __forceinline__ void load_vec(const float* p, float (&out)[N]) {
  if constexpr (N == 4) {
    const float4 v = *reinterpret_cast<const float4*>(p);
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
  } else if constexpr (N == 2) {
    const float2 v = *reinterpret_cast<const float2*>(p);
    out[0] = v.x, out[1] = v.y;
  } else {
    out[0] = p[0];
  }
}

// keep ? scale : 0 for columns col0 .. col0+N-1 of one dropout row; col0 % 4 + N <= 4, so
// one Philox draw covers them (N = 1, 2, 4 with col0 a multiple of N).
template <int N>
__device__ __forceinline__ void dropout_factors(const DropoutParams& d, std::int64_t row,
                                                std::int64_t col0, float (&f)[N]) {
  const philox::Block blk = dropout_block(d, row, col0 / 4);
#pragma unroll
  for (int t = 0; t < N; ++t)
    f[t] = philox::to_uniform(block_lane(blk, static_cast<int>((col0 + t) % 4))) >= d.p ? d.scale
                                                                                          : 0.f;
}

// Stage rows [r0, r0 + tile) of one head's q, k, v or dO (the elements from `base`, rows
// ld apart; clamped to T, zero beyond) into fp32 shared memory: transposed ([d][tile]) and/or
// row-major ([tile][d]).
__device__ __forceinline__ void stage_rows(float* transposed, float* row_major, FloatIn src,
                                           std::int64_t base, std::int64_t ld, std::int64_t r0,
                                           std::int64_t T, int tile, int d) {
  for (int idx = threadIdx.x; idx < tile * d; idx += blockDim.x) {
    const int rr = idx / d, cc = idx % d;
    const float v = r0 + rr < T ? load(src, base + (r0 + rr) * ld + cc) : 0.f;
    if (transposed) transposed[cc * tile + rr] = v;
    if (row_major) row_major[rr * d + cc] = v;
  }
}

// Forward (kRowDot = false): ctx, lse. kRowDot = true: the same pass in the backward,
// producing D_i = dctx_i . ctx_i instead of ctx (the interface does not pass ctx back).
template <int KPL, int DPL, bool kRowDot>
__global__ void __launch_bounds__(W * 32)
    attention_fwd_flash_warp_per_query(FlashParams p) {
  extern __shared__ __align__(16) float smem[];
  constexpr int Bc = 32 * KPL;
  const int d = static_cast<int>(p.d), warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t T = p.T, a = p.a, b = blockIdx.z, hd = blockIdx.y;
  float* kT = smem;          // [d][Bc]
  float* vs = kT + d * Bc;   // [Bc][d]
  float* q = vs + Bc * d + warp * d;  // this warp's query [d]
  const std::int64_t ld = 3 * a * d;
  const std::int64_t head = b * T * ld + hd * 3 * d;  // row t: q at t*ld, k +d, v +2d
  const std::int64_t P = clamp_len(p.prefix_len[b], T), L = clamp_len(p.valid_len[b], T);
  const std::int64_t i = blockIdx.x * static_cast<std::int64_t>(W) + warp;
  const bool row_valid = i < T;
  const std::int64_t lim = row_valid ? row_limit(i, P, L) : 0;
  const std::int64_t i_last = min(blockIdx.x * static_cast<std::int64_t>(W) + W - 1, T - 1);
  const std::int64_t block_lim = row_limit(i_last, P, L);  // lim grows with i
  const std::int64_t drow = dropout_row_of(p.drop, b, hd, i, T);

  for (int cc = lane; cc < d; cc += 32) q[cc] = row_valid ? load(p.qkv, head + i * ld + cc) : 0.f;
  float o[DPL];
#pragma unroll
  for (int u = 0; u < DPL; ++u) o[u] = 0.f;
  float m_run = -INFINITY, l_run = 0.f;

  for (std::int64_t j0 = 0; j0 < block_lim; j0 += Bc) {
    __syncthreads();  // the previous tile is consumed
    stage_rows(kT, nullptr, p.qkv, head + d, ld, j0, T, Bc, d);
    stage_rows(nullptr, vs, p.qkv, head + 2 * d, ld, j0, T, Bc, d);
    __syncthreads();
    if (j0 >= lim) continue;  // warp-uniform: no allowed key of this row in the tile
    // x_j = c * alpha * q.k_j for the lane's keys j0 + lane*KPL + t
    float acc[KPL];
#pragma unroll
    for (int t = 0; t < KPL; ++t) acc[t] = 0.f;
    for (int cc = 0; cc < d; ++cc) {
      float kv[KPL];
      load_vec<KPL>(kT + cc * Bc + lane * KPL, kv);
      const float qv = q[cc];
#pragma unroll
      for (int t = 0; t < KPL; ++t) acc[t] += qv * kv[t];
    }
    const std::int64_t jl = j0 + lane * KPL;
    float x[KPL], mt = -INFINITY;
#pragma unroll
    for (int t = 0; t < KPL; ++t) {
      x[t] = jl + t < lim ? p.c * (p.alpha * acc[t]) : -INFINITY;
      mt = fmaxf(mt, x[t]);
    }
    const float m_new = fmaxf(m_run, warp_max(mt));  // finite: key j0 is allowed
    const float corr = expf(m_run - m_new);          // 0 on the first tile
    float e[KPL], es = 0.f;
#pragma unroll
    for (int t = 0; t < KPL; ++t) {
      e[t] = jl + t < lim ? expf(x[t] - m_new) : 0.f;
      es += e[t];
    }
    l_run = l_run * corr + warp_sum(es);  // the sum before dropout normalises
    if (p.dropout) {
      float f[KPL];
      dropout_factors<KPL>(p.drop, drow, jl, f);
#pragma unroll
      for (int t = 0; t < KPL; ++t) e[t] *= f[t];
    }
#pragma unroll
    for (int u = 0; u < DPL; ++u) o[u] *= corr;
    for (int src = 0; src < 32; ++src) {
#pragma unroll
      for (int t = 0; t < KPL; ++t) {
        const float pj = __shfl_sync(kFull, e[t], src);
        const float* vrow = vs + (src * KPL + t) * d;
#pragma unroll
        for (int u = 0; u < DPL; ++u) {
          const int cc = lane + 32 * u;
          if (cc < d) o[u] += pj * vrow[cc];
        }
      }
    }
    m_run = m_new;
  }
  if (!row_valid) return;
  const float inv_l = l_run > 0.f ? 1.f / l_run : 0.f;  // an empty row: all-zero probabilities
  const std::int64_t out = (b * T + i) * a * d + hd * d;
  if constexpr (!kRowDot) {
#pragma unroll
    for (int u = 0; u < DPL; ++u) {
      const int cc = lane + 32 * u;
      if (cc < d) store(p.ctx, out + cc, o[u] * inv_l);
    }
    if (lane == 0) p.lse[(b * a + hd) * T + i] = l_run > 0.f ? m_run + logf(l_run) : INFINITY;
  } else {
    float dot = 0.f;
#pragma unroll
    for (int u = 0; u < DPL; ++u) {
      const int cc = lane + 32 * u;
      if (cc < d) dot += load(p.dctx, out + cc) * (o[u] * inv_l);
    }
    dot = warp_sum(dot);
    if (lane == 0) p.rowdot[(b * a + hd) * T + i] = dot;
  }
}

// dq_i = alpha * sum_j dS_ij k_j with dS_ij = c * P_ij * (dP_ij - D_i),
// P_ij = exp(c * s_ij - lse_i), dP_ij = dropout(dctx_i . v_j).
template <int KPL, int DPL>
__global__ void __launch_bounds__(W * 32) attention_bwd_dq_warp_per_query(FlashParams p) {
  extern __shared__ __align__(16) float smem[];
  constexpr int Bc = 32 * KPL;
  const int d = static_cast<int>(p.d), warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t T = p.T, a = p.a, b = blockIdx.z, hd = blockIdx.y;
  float* kT = smem;             // [d][Bc]
  float* ks = kT + d * Bc;      // [Bc][d]
  float* vT = ks + Bc * d;      // [d][Bc]
  float* q = vT + d * Bc + warp * d;  // [d] per warp
  float* dO = vT + d * Bc + W * d + warp * d;
  const std::int64_t ld = 3 * a * d;
  const std::int64_t head = b * T * ld + hd * 3 * d;
  const std::int64_t P = clamp_len(p.prefix_len[b], T), L = clamp_len(p.valid_len[b], T);
  const std::int64_t i = blockIdx.x * static_cast<std::int64_t>(W) + warp;
  const bool row_valid = i < T;
  const std::int64_t lim = row_valid ? row_limit(i, P, L) : 0;
  const std::int64_t i_last = min(blockIdx.x * static_cast<std::int64_t>(W) + W - 1, T - 1);
  const std::int64_t block_lim = row_limit(i_last, P, L);
  const std::int64_t drow = dropout_row_of(p.drop, b, hd, i, T);
  const std::int64_t out = (b * T + i) * a * d + hd * d;
  const float lse = row_valid ? p.lse[(b * a + hd) * T + i] : 0.f;
  const float Di = row_valid ? p.rowdot[(b * a + hd) * T + i] : 0.f;

  for (int cc = lane; cc < d; cc += 32) {
    q[cc] = row_valid ? load(p.qkv, head + i * ld + cc) : 0.f;
    dO[cc] = row_valid ? load(p.dctx, out + cc) : 0.f;
  }
  float dq[DPL];
#pragma unroll
  for (int u = 0; u < DPL; ++u) dq[u] = 0.f;

  for (std::int64_t j0 = 0; j0 < block_lim; j0 += Bc) {
    __syncthreads();
    stage_rows(kT, ks, p.qkv, head + d, ld, j0, T, Bc, d);
    stage_rows(vT, nullptr, p.qkv, head + 2 * d, ld, j0, T, Bc, d);
    __syncthreads();
    if (j0 >= lim) continue;
    float sacc[KPL], pacc[KPL];
#pragma unroll
    for (int t = 0; t < KPL; ++t) sacc[t] = pacc[t] = 0.f;
    for (int cc = 0; cc < d; ++cc) {
      float kv[KPL], vv[KPL];
      load_vec<KPL>(kT + cc * Bc + lane * KPL, kv);
      load_vec<KPL>(vT + cc * Bc + lane * KPL, vv);
      const float qv = q[cc], gv = dO[cc];
#pragma unroll
      for (int t = 0; t < KPL; ++t) {
        sacc[t] += qv * kv[t];
        pacc[t] += gv * vv[t];
      }
    }
    const std::int64_t jl = j0 + lane * KPL;
    float f[KPL];
    if (p.dropout) {
      dropout_factors<KPL>(p.drop, drow, jl, f);
    } else {
#pragma unroll
      for (int t = 0; t < KPL; ++t) f[t] = 1.f;
    }
    float ds[KPL];
#pragma unroll
    for (int t = 0; t < KPL; ++t) {
      const bool ok = jl + t < lim;
      const float pr = ok ? expf(p.c * (p.alpha * sacc[t]) - lse) : 0.f;
      ds[t] = ok ? p.c * (pr * (pacc[t] * f[t] - Di)) : 0.f;
    }
    for (int src = 0; src < 32; ++src) {
#pragma unroll
      for (int t = 0; t < KPL; ++t) {
        const float dsj = __shfl_sync(kFull, ds[t], src);
        const float* krow = ks + (src * KPL + t) * d;
#pragma unroll
        for (int u = 0; u < DPL; ++u) {
          const int cc = lane + 32 * u;
          if (cc < d) dq[u] += dsj * krow[cc];
        }
      }
    }
  }
  if (!row_valid) return;
  const std::int64_t dq_out = (b * T + i) * ld + hd * 3 * d;
#pragma unroll
  for (int u = 0; u < DPL; ++u) {
    const int cc = lane + 32 * u;
    if (cc < d) store(p.dqkv, dq_out + cc, p.alpha * dq[u]);
  }
}

// dk_j = alpha * sum_i dS_ij q_i;  dv_j = sum_i dropout(P)_ij dctx_i  (one warp per key).
template <int QPL, int DPL>
__global__ void __launch_bounds__(W * 32) attention_bwd_dkv_warp_per_key(FlashParams p) {
  extern __shared__ __align__(16) float smem[];
  constexpr int Br = 32 * QPL;
  const int d = static_cast<int>(p.d), warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t T = p.T, a = p.a, b = blockIdx.z, hd = blockIdx.y;
  float* qT = smem;              // [d][Br]
  float* qs = qT + d * Br;       // [Br][d]
  float* doT = qs + Br * d;      // [d][Br]
  float* dos = doT + d * Br;     // [Br][d]
  float* kw = dos + Br * d + warp * d;          // this warp's key [d]
  float* vw = dos + Br * d + W * d + warp * d;  // this warp's value [d]
  float* lse_s = dos + Br * d + 2 * W * d;      // [Br]
  float* D_s = lse_s + Br;                      // [Br]
  float* lim_s = D_s + Br;                      // [Br] row limits (exact in fp32: T < 2^24)
  const std::int64_t ld = 3 * a * d;
  const std::int64_t head = b * T * ld + hd * 3 * d;
  const std::int64_t dctx_head = b * T * a * d + hd * d;  // row t at t * a*d
  const std::int64_t P = clamp_len(p.prefix_len[b], T), L = clamp_len(p.valid_len[b], T);
  const std::int64_t jb0 = blockIdx.x * static_cast<std::int64_t>(W);
  const std::int64_t j = jb0 + warp;
  const bool key_valid = j < T;

  for (int cc = lane; cc < d; cc += 32) {
    kw[cc] = key_valid ? load(p.qkv, head + j * ld + d + cc) : 0.f;
    vw[cc] = key_valid ? load(p.qkv, head + j * ld + 2 * d + cc) : 0.f;
  }
  float dk[DPL], dv[DPL];
#pragma unroll
  for (int u = 0; u < DPL; ++u) dk[u] = dv[u] = 0.f;

  for (std::int64_t i0 = 0; i0 < T && jb0 < L; i0 += Br) {
    // Some query of the tile attends the block's first key iff it is in the prefix or not
    // after the tile's last query (block-uniform, so the barriers below stay uniform).
    const std::int64_t i_end = i0 + Br < T ? i0 + Br : T;
    if (!(jb0 < P || jb0 <= i_end - 1)) continue;
    __syncthreads();
    stage_rows(qT, qs, p.qkv, head, ld, i0, T, Br, d);
    stage_rows(doT, dos, p.dctx, dctx_head, a * d, i0, T, Br, d);
    for (int r = threadIdx.x; r < Br; r += blockDim.x) {
      const std::int64_t i = i0 + r;
      const bool ok = i < T;
      lse_s[r] = ok ? p.lse[(b * a + hd) * T + i] : 0.f;
      D_s[r] = ok ? p.rowdot[(b * a + hd) * T + i] : 0.f;
      lim_s[r] = ok ? static_cast<float>(row_limit(i, P, L)) : 0.f;
    }
    __syncthreads();
    if (!key_valid) continue;
    float sacc[QPL], pacc[QPL];
#pragma unroll
    for (int t = 0; t < QPL; ++t) sacc[t] = pacc[t] = 0.f;
    for (int cc = 0; cc < d; ++cc) {
      float qv[QPL], gv[QPL];
      load_vec<QPL>(qT + cc * Br + lane * QPL, qv);
      load_vec<QPL>(doT + cc * Br + lane * QPL, gv);
      const float kc = kw[cc], vc = vw[cc];
#pragma unroll
      for (int t = 0; t < QPL; ++t) {
        sacc[t] += kc * qv[t];
        pacc[t] += vc * gv[t];
      }
    }
    float pd[QPL], ds[QPL];
#pragma unroll
    for (int t = 0; t < QPL; ++t) {
      const int r = lane * QPL + t;
      const bool ok = static_cast<float>(j) < lim_s[r];
      const float pr = ok ? expf(p.c * (p.alpha * sacc[t]) - lse_s[r]) : 0.f;
      const float f = ok && p.dropout ? dropout_factor(p.drop,
                                                       dropout_row_of(p.drop, b, hd, i0 + r, T), j)
                                      : 1.f;
      pd[t] = pr * f;
      ds[t] = ok ? p.c * (pr * (pacc[t] * f - D_s[r])) : 0.f;
    }
    for (int src = 0; src < 32; ++src) {
#pragma unroll
      for (int t = 0; t < QPL; ++t) {
        const float pdi = __shfl_sync(kFull, pd[t], src), dsi = __shfl_sync(kFull, ds[t], src);
        const int r = src * QPL + t;
#pragma unroll
        for (int u = 0; u < DPL; ++u) {
          const int cc = lane + 32 * u;
          if (cc < d) {
            dv[u] += pdi * dos[r * d + cc];
            dk[u] += dsi * qs[r * d + cc];
          }
        }
      }
    }
  }
  if (!key_valid) return;
  const std::int64_t out = (b * T + j) * ld + hd * 3 * d;
#pragma unroll
  for (int u = 0; u < DPL; ++u) {
    const int cc = lane + 32 * u;
    if (cc < d) {
      store(p.dqkv, out + d + cc, p.alpha * dk[u]);
      store(p.dqkv, out + 2 * d + cc, dv[u]);
    }
  }
}

// p_j = softmax_j(scale * s_j) over j < lim(i), exact zeros elsewhere (a row with lim = 0 is
// all zero). One warp per row.
__global__ void attention_softmax_warp_per_row(float* scores, const std::int32_t* prefix_len,
                                               const std::int32_t* valid_len, std::int64_t rows,
                                               std::int64_t a, std::int64_t T, float scale) {
  const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const std::int64_t b = row / (a * T), i = row % T;
  const std::int64_t lim = row_limit(i, clamp_len(prefix_len[b], T), clamp_len(valid_len[b], T));
  float* s = scores + row * T;
  float m = -INFINITY;
  for (std::int64_t j = lane; j < lim; j += 32) m = fmaxf(m, s[j]);
  m = warp_max(m);
  float sum = 0.f;
  for (std::int64_t j = lane; j < lim; j += 32) {
    const float e = expf(scale * (s[j] - m));
    s[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  const float inv = lim > 0 ? 1.f / sum : 0.f;
  for (std::int64_t j = lane; j < T; j += 32) s[j] = j < lim ? s[j] * inv : 0.f;
}

__global__ void attention_softmax_backward_warp_per_row(float* dprobs, const float* probs,
                                                        std::int64_t rows, std::int64_t a,
                                                        std::int64_t T, float scale,
                                                        std::int64_t b0, DropoutParams drop,
                                                        bool dropout) {
  const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  float* dp = dprobs + row * T;
  const float* pr = probs + row * T;
  if (dropout) {
    const std::int64_t grow = dropout_row_of(drop, b0 + row / (a * T), (row / T) % a, row % T, T);
    for (std::int64_t j = lane; j < T; j += 32) dp[j] *= dropout_factor(drop, grow, j);
  }
  float dot = 0.f;
  for (std::int64_t j = lane; j < T; j += 32) dot += dp[j] * pr[j];
  dot = warp_sum(dot);
  for (std::int64_t j = lane; j < T; j += 32) dp[j] = scale * pr[j] * (dp[j] - dot);
}

template <class Kernel>
cudaError_t launch_flash(Kernel kernel, int smem, const FlashParams& p, cudaStream_t s) {
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.T, W)), static_cast<unsigned>(p.a),
                  static_cast<unsigned>(p.B));
  kernel<<<grid, W * 32, smem, s>>>(p);
  return cudaGetLastError();
}

template <bool kRowDot>
cudaError_t launch_forward_pass(const FlashParams& p, cudaStream_t s) {
  const int smem = static_cast<int>(flash_smem_bytes(FlashKernel::forward, p.d));
  switch (dims_per_lane(p.d)) {
    case 1: return launch_flash(attention_fwd_flash_warp_per_query<4, 1, kRowDot>, smem, p, s);
    case 2: return launch_flash(attention_fwd_flash_warp_per_query<4, 2, kRowDot>, smem, p, s);
    case 4: return launch_flash(attention_fwd_flash_warp_per_query<4, 4, kRowDot>, smem, p, s);
    default: return launch_flash(attention_fwd_flash_warp_per_query<2, 8, kRowDot>, smem, p, s);
  }
}

bool flash_shape_ok(const FlashParams& p) {
  return p.d >= 1 && p.d <= kFlashMaxHeadDim && p.a <= 65535 && p.B <= 65535;
}

}  // namespace

cudaError_t launch_attention_flash_forward(const FlashParams& p, cudaStream_t s) {
  if (!flash_shape_ok(p)) return cudaErrorInvalidValue;
  if (p.B * p.T * p.a == 0) return cudaSuccess;
  return launch_forward_pass<false>(p, s);
}

cudaError_t launch_attention_flash_backward(const FlashParams& p, cudaStream_t s) {
  if (!flash_shape_ok(p)) return cudaErrorInvalidValue;
  if (p.B * p.T * p.a == 0) return cudaSuccess;
  cudaError_t e = launch_forward_pass<true>(p, s);
  if (e != cudaSuccess) return e;
  const int dq_smem = static_cast<int>(flash_smem_bytes(FlashKernel::backward_dq, p.d));
  const int dkv_smem = static_cast<int>(flash_smem_bytes(FlashKernel::backward_dkv, p.d));
  switch (dims_per_lane(p.d)) {
    case 1:
      e = launch_flash(attention_bwd_dq_warp_per_query<2, 1>, dq_smem, p, s);
      return e != cudaSuccess ? e : launch_flash(attention_bwd_dkv_warp_per_key<2, 1>, dkv_smem, p, s);
    case 2:
      e = launch_flash(attention_bwd_dq_warp_per_query<2, 2>, dq_smem, p, s);
      return e != cudaSuccess ? e : launch_flash(attention_bwd_dkv_warp_per_key<2, 2>, dkv_smem, p, s);
    case 4:
      e = launch_flash(attention_bwd_dq_warp_per_query<2, 4>, dq_smem, p, s);
      return e != cudaSuccess ? e : launch_flash(attention_bwd_dkv_warp_per_key<2, 4>, dkv_smem, p, s);
    default:
      e = launch_flash(attention_bwd_dq_warp_per_query<2, 8>, dq_smem, p, s);
      return e != cudaSuccess ? e : launch_flash(attention_bwd_dkv_warp_per_key<1, 8>, dkv_smem, p, s);
  }
}

cudaError_t launch_attention_softmax_rows(float* scores, const std::int32_t* prefix_len,
                                          const std::int32_t* valid_len, std::int64_t B,
                                          std::int64_t a, std::int64_t T, float scale,
                                          cudaStream_t s) {
  const std::int64_t rows = B * a * T;
  if (rows == 0) return cudaSuccess;
  attention_softmax_warp_per_row<<<static_cast<unsigned>(ceil_div(rows, 8)), 256, 0, s>>>(
      scores, prefix_len, valid_len, rows, a, T, scale);
  return cudaGetLastError();
}

cudaError_t launch_attention_softmax_backward_rows(float* dprobs, const float* probs,
                                                   std::int64_t rows, std::int64_t a,
                                                   std::int64_t T, float scale, std::int64_t b0,
                                                   const DropoutParams* drop, cudaStream_t s) {
  if (rows == 0) return cudaSuccess;
  attention_softmax_backward_warp_per_row<<<static_cast<unsigned>(ceil_div(rows, 8)), 256, 0, s>>>(
      dprobs, probs, rows, a, T, scale, b0, drop ? *drop : DropoutParams{}, drop != nullptr);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
