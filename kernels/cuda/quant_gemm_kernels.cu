// Weight-only INT4/INT8 (and fp16-weight) GEMV/GEMM kernels, then their launchers.
// y[n, out] = x[n, in] * dequant(W)^T + b, weights
// dequantized in registers (never a full fp16 copy of W), products accumulated in fp32.
// Format: kernels/quant.h. Path choice and grids: quant_gemm_plan.h.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/quant_dequant.h"
#include "kernels/cuda/quant_gemm_launch.h"

namespace glm::kernels::cuda {
namespace {

using std::uint32_t;
using std::uint8_t;

// ---- small device helpers -------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
  return v;
}

__device__ __forceinline__ float2 f16x2_to_float2(uint32_t u) {
  return __half22float2(__halves2half2(__ushort_as_half(static_cast<unsigned short>(u & 0xFFFF)),
                                       __ushort_as_half(static_cast<unsigned short>(u >> 16))));
}

__device__ __forceinline__ void store_out(float* y, long i, float v) { y[i] = v; }
__device__ __forceinline__ void store_out(__half* y, long i, float v) { y[i] = __float2half_rn(v); }

__device__ __forceinline__ float bias_at(const __half* bias, int row) {
  return bias ? __half2float(bias[row]) : 0.0f;
}

// Weights are read once: bypass L1 so x and the scales keep it.
__device__ __forceinline__ uint4 load_weights_16(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending));
}

__device__ __forceinline__ uint32_t sub_f16x2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}

// c[16x8] += A[16x16] * B[16x8], fp16 inputs, fp32 accumulators (PTX fragment layouts).
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ---- batch-1 GEMV on CUDA cores --------------------------------------------------------
// Each warp streams kGemvRowsPerWarp rows together; lane l takes 16-byte chunks l, l+32, ...
// of each row (a warp reads 512 contiguous bytes per row per step: 128-bit coalesced loads),
// two steps in flight. x is staged once per block in shared memory as fp16 and reused by
// every row the block's warps handle (the grid is persistent: a few blocks per SM).
// A chunk is 32 int4 / 16 int8 / 8 fp16 elements = kUnits 16-byte units of x; the units of
// chunk c are stored XOR-swizzled (unit j at j ^ ((c / (8 / kUnits)) % kUnits)) so the 8
// lanes of a shared-memory phase hit 8 different 16-byte bank groups.
// Per chunk: partial = sum q*x in fp32 (q exact, quant_dequant.h), acc += scale * partial.

template <int kBits>
struct GemvChunk {
  static constexpr int kElems = 128 / kBits;  // elements per 16-byte weight chunk
  static constexpr int kUnits = kElems / 8;   // 16-byte units of fp16 x per chunk
};

template <int kUnits>
__device__ __forceinline__ int x_swizzle(int c) {
  return kUnits == 1 ? 0 : (c / (8 / kUnits)) & (kUnits - 1);
}

template <int kUnits>
__device__ __forceinline__ void load_x_chunk(const uint4* x_s, int c, float (&xf)[8 * kUnits]) {
  const int swz = x_swizzle<kUnits>(c);
#pragma unroll
  for (int j = 0; j < kUnits; ++j) {
    const uint4 v = x_s[c * kUnits + (j ^ swz)];
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const float2 f = f16x2_to_float2(w[p]);
      xf[8 * j + 2 * p] = f.x;
      xf[8 * j + 2 * p + 1] = f.y;
    }
  }
}

// sum over the chunk of q[e] * x[e] (fp16 weights: w[e] * x[e]); two chains for ILP.
template <int kBits>
__device__ __forceinline__ float chunk_dot(const uint4& wv, const float (&xf)[128 / kBits]) {
  const uint32_t w[4] = {wv.x, wv.y, wv.z, wv.w};
  float s[2] = {0.0f, 0.0f};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    if constexpr (kBits == 4) {
      float q[8];
      quant::int4x8_to_f32(w[k], q);
#pragma unroll
      for (int e = 0; e < 8; ++e) s[k & 1] = fmaf(q[e], xf[8 * k + e], s[k & 1]);
    } else if constexpr (kBits == 8) {
      float q[4];
      quant::int8x4_to_f32(w[k], q);
#pragma unroll
      for (int e = 0; e < 4; ++e) s[k & 1] = fmaf(q[e], xf[4 * k + e], s[k & 1]);
    } else {
      const float2 f = f16x2_to_float2(w[k]);
      s[k & 1] = fmaf(f.x, xf[2 * k], s[k & 1]);
      s[k & 1] = fmaf(f.y, xf[2 * k + 1], s[k & 1]);
    }
  }
  return s[0] + s[1];
}

template <int kBits, class OutT>
__global__ void __launch_bounds__(kGemvThreads)
    quant_gemv_warp_rows(OutT* __restrict__ y, const __half* __restrict__ x,
                         const uint8_t* __restrict__ w, const __half* __restrict__ scales,
                         const __half* __restrict__ bias, int out, int in, int group) {
  using Chunk = GemvChunk<kBits>;
  constexpr int kRows = kGemvRowsPerWarp, kUnroll = 2, kWarps = kGemvThreads / 32;
  extern __shared__ uint4 x_s[];  // in/8 units, swizzled per chunk

  // x [in] -> shared memory, once per block.
  const uint4* xg = reinterpret_cast<const uint4*>(x);
  for (int u = threadIdx.x; u < in / 8; u += blockDim.x) {
    const int c = u / Chunk::kUnits, j = u % Chunk::kUnits;
    x_s[c * Chunk::kUnits + (j ^ x_swizzle<Chunk::kUnits>(c))] = __ldg(xg + u);
  }
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int chunks = in / Chunk::kElems;
  const long row_bytes = static_cast<long>(in) * kBits / 8;
  const int groups = kBits == 16 ? 1 : in / group;
  const int chunks_per_group = kBits == 16 ? chunks : group / Chunk::kElems;

  for (int rg = blockIdx.x * kWarps + warp; rg * kRows < out; rg += gridDim.x * kWarps) {
    int rows[kRows];
    const uint8_t* wr[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      rows[i] = min(rg * kRows + i, out - 1);  // a duplicate row past the end is not stored
      wr[i] = w + rows[i] * row_bytes;
    }
    float acc[kRows] = {};
    for (int c0 = lane; c0 < chunks; c0 += 32 * kUnroll) {
      uint4 wv[kUnroll][kRows];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int c = c0 + 32 * u;
#pragma unroll
        for (int i = 0; i < kRows; ++i)
          wv[u][i] = c < chunks ? load_weights_16(wr[i] + 16L * c) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int c = c0 + 32 * u;
        if (c >= chunks) break;
        float xf[Chunk::kElems];
        load_x_chunk<Chunk::kUnits>(x_s, c, xf);
        const int g = groups == 1 ? 0 : c / chunks_per_group;
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
          const float part = chunk_dot<kBits>(wv[u][i], xf);
          if constexpr (kBits == 16) {
            acc[i] += part;
          } else {
            acc[i] = fmaf(__half2float(scales[static_cast<long>(rows[i]) * groups + g]), part,
                          acc[i]);
          }
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const float v = warp_sum(acc[i]);
      const int row = rg * kRows + i;
      if (lane == 0 && row < out) store_out(y, row, v + bias_at(bias, row));
    }
  }
}

// ---- small-batch GEMM on tensor cores ---------------------------------------------------
// A warp owns 16 output rows (the M of mma.m16n8k16) and all n <= 64 columns (x rows, in
// kNTiles tiles of 8). Per k-block of 128: lane (g = lane/4, t = lane%4) holds 32 contiguous
// elements of rows g and g+8 (16 bytes int4, 32 bytes int8), fetched by cp.async into a
// per-warp ring of kStages k-blocks (each lane reads back only what it wrote itself: no
// block synchronisation). Weights are dequantized once per k-block into exact fp16 q and
// reused by every x tile: that reuse is what makes small n cheap. x fragments come from L1
// (16-byte loads, permuted with PRMT to match the weight pairs, quant_dequant.h). Scales are
// applied in fp32 to the per-group partial sums (G is a multiple of 128), so the result is
// exactly sum q*scale*x up to fp32 rounding.
constexpr int kMmaStages = 4;

template <int kBits, int kNTiles, class OutT>
__global__ void __launch_bounds__(kMmaWarps * 32)
    quant_gemm_mma_m16(OutT* __restrict__ y, const __half* __restrict__ x,
                       const uint8_t* __restrict__ w, const __half* __restrict__ scales,
                       const __half* __restrict__ bias, int n, int out, int in, int group) {
  constexpr int kLaneBytes = 32 * kBits / 8;  // per row per k-block: 16 (int4) or 32 (int8)
  constexpr int kPieces = kLaneBytes / 16;
  constexpr int kWords = kLaneBytes / 4;
  __shared__ uint4 ring[kMmaWarps][kMmaStages][2][kPieces][32];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int m0 = (blockIdx.x * kMmaWarps + warp) * 16;
  if (m0 >= out) return;  // warp-uniform; the kernel has no block-wide barrier

  const long row_bytes = static_cast<long>(in) * kBits / 8;
  const int row_a = min(m0 + g, out - 1), row_b = min(m0 + g + 8, out - 1);
  const uint8_t* wa = w + row_a * row_bytes + t * kLaneBytes;
  const uint8_t* wb = w + row_b * row_bytes + t * kLaneBytes;
  const int kblocks = in / kMmaKBlock;
  const int kblocks_per_group = group / kMmaKBlock;
  const int groups = in / group;

  auto issue = [&](int kb) {
    if (kb < kblocks) {
      const int slot = kb % kMmaStages;
      const long off = static_cast<long>(kb) * 4 * kLaneBytes;
#pragma unroll
      for (int p = 0; p < kPieces; ++p) {
        cp_async_16(&ring[warp][slot][0][p][lane], wa + off + 16 * p);
        cp_async_16(&ring[warp][slot][1][p][lane], wb + off + 16 * p);
      }
    }
    cp_async_commit();  // possibly empty: keeps the group count in step with kb
  };

  // x row of tile j this lane feeds is column 8j + g, read at the lane's 32-element chunk:
  // one base pointer and a tile stride keep the register count down.
  const uint4* x_lane = reinterpret_cast<const uint4*>(x + static_cast<long>(g) * in + 32 * t);
  const long x_tile_stride = static_cast<long>(in);  // 8 rows of x, in uint4 units (8 halves)

  float acc[kNTiles][4] = {}, part[kNTiles][4] = {};
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) issue(s);

  for (int kb = 0; kb < kblocks; ++kb) {
    issue(kb + kMmaStages - 1);
    cp_async_wait<kMmaStages - 1>();  // k-block kb has landed
    const int slot = kb % kMmaStages;
    uint32_t ra[kWords], rb[kWords];
#pragma unroll
    for (int p = 0; p < kPieces; ++p) {
      const uint4 va = ring[warp][slot][0][p][lane], vb = ring[warp][slot][1][p][lane];
      ra[4 * p] = va.x, ra[4 * p + 1] = va.y, ra[4 * p + 2] = va.z, ra[4 * p + 3] = va.w;
      rb[4 * p] = vb.x, rb[4 * p + 1] = vb.y, rb[4 * p + 2] = vb.z, rb[4 * p + 3] = vb.w;
    }

#pragma unroll
    for (int v = 0; v < 4; ++v) {  // 8-element group v of the lane's 32: two k16 steps
      uint32_t a[2][4];            // [step h][A register]: rows g, g+8 x pairs e = 2h, 2h+1
      if constexpr (kBits == 4) {
        constexpr uint32_t kBias = quant::kInt4PairBias * 0x10001u;
        a[0][0] = sub_f16x2(quant::int4_pair_biased_f16x2<0>(ra[v]), kBias);
        a[0][1] = sub_f16x2(quant::int4_pair_biased_f16x2<0>(rb[v]), kBias);
        a[0][2] = sub_f16x2(quant::int4_pair_biased_f16x2<1>(ra[v]), kBias);
        a[0][3] = sub_f16x2(quant::int4_pair_biased_f16x2<1>(rb[v]), kBias);
        a[1][0] = sub_f16x2(quant::int4_pair_biased_f16x2<2>(ra[v]), kBias);
        a[1][1] = sub_f16x2(quant::int4_pair_biased_f16x2<2>(rb[v]), kBias);
        a[1][2] = sub_f16x2(quant::int4_pair_biased_f16x2<3>(ra[v]), kBias);
        a[1][3] = sub_f16x2(quant::int4_pair_biased_f16x2<3>(rb[v]), kBias);
      } else {
        constexpr uint32_t kBias = quant::kInt8PairBias * 0x10001u;
        const uint32_t la = ra[2 * v], ha = ra[2 * v + 1], lb = rb[2 * v], hb = rb[2 * v + 1];
        a[0][0] = sub_f16x2(quant::int8_pair_biased_f16x2<0>(la, ha), kBias);
        a[0][1] = sub_f16x2(quant::int8_pair_biased_f16x2<0>(lb, hb), kBias);
        a[0][2] = sub_f16x2(quant::int8_pair_biased_f16x2<1>(la, ha), kBias);
        a[0][3] = sub_f16x2(quant::int8_pair_biased_f16x2<1>(lb, hb), kBias);
        a[1][0] = sub_f16x2(quant::int8_pair_biased_f16x2<2>(la, ha), kBias);
        a[1][1] = sub_f16x2(quant::int8_pair_biased_f16x2<2>(lb, hb), kBias);
        a[1][2] = sub_f16x2(quant::int8_pair_biased_f16x2<3>(la, ha), kBias);
        a[1][3] = sub_f16x2(quant::int8_pair_biased_f16x2<3>(lb, hb), kBias);
      }
#pragma unroll
      for (int j = 0; j < kNTiles; ++j) {
        const uint4 xv = 8 * j + g < n ? __ldg(x_lane + j * x_tile_stride + kb * (kMmaKBlock / 8) + v)
                                       : make_uint4(0, 0, 0, 0);
        const uint32_t xw[4] = {xv.x, xv.y, xv.z, xv.w};
        uint32_t b[4];
        quant::x_pairs_from_8(xw, b);
        mma_16816(part[j], a[0], b[0], b[1]);
        mma_16816(part[j], a[1], b[2], b[3]);
      }
    }

    if ((kb + 1) % kblocks_per_group == 0) {  // end of a scale group: acc += scale * part
      const int gi = kb / kblocks_per_group;
      const float sa = __half2float(scales[static_cast<long>(row_a) * groups + gi]);
      const float sb = __half2float(scales[static_cast<long>(row_b) * groups + gi]);
#pragma unroll
      for (int j = 0; j < kNTiles; ++j) {
        acc[j][0] = fmaf(sa, part[j][0], acc[j][0]);
        acc[j][1] = fmaf(sa, part[j][1], acc[j][1]);
        acc[j][2] = fmaf(sb, part[j][2], acc[j][2]);
        acc[j][3] = fmaf(sb, part[j][3], acc[j][3]);
        part[j][0] = part[j][1] = part[j][2] = part[j][3] = 0.0f;
      }
    }
  }
  cp_async_wait<0>();

  // C fragment: c0, c1 = (row g, columns 2t, 2t+1), c2, c3 = (row g+8, same columns).
  const int r0 = m0 + g, r1 = m0 + g + 8;
  const float b0 = r0 < out ? bias_at(bias, r0) : 0.0f, b1 = r1 < out ? bias_at(bias, r1) : 0.0f;
#pragma unroll
  for (int j = 0; j < kNTiles; ++j) {
    const int c0 = 8 * j + 2 * t, c1 = c0 + 1;
    if (c0 < n && r0 < out) store_out(y, static_cast<long>(c0) * out + r0, acc[j][0] + b0);
    if (c1 < n && r0 < out) store_out(y, static_cast<long>(c1) * out + r0, acc[j][1] + b0);
    if (c0 < n && r1 < out) store_out(y, static_cast<long>(c0) * out + r1, acc[j][2] + b1);
    if (c1 < n && r1 < out) store_out(y, static_cast<long>(c1) * out + r1, acc[j][3] + b1);
  }
}

// ---- generic path: any shape -------------------------------------------------------------
// A warp per output row, lanes striding over `in` with scalar loads: the fallback for
// shapes the vectorised paths do not take (unaligned rows, in = 130, G = 32 at n > 1).
template <int kBits>
__device__ __forceinline__ float weight_value(const uint8_t* w, const __half* scales, int row,
                                              int k, int in, int group) {
  if constexpr (kBits == 16) {
    return __half2float(reinterpret_cast<const __half*>(w)[static_cast<long>(row) * in + k]);
  } else {
    const float s = __half2float(scales[static_cast<long>(row) * (in / group) + k / group]);
    if constexpr (kBits == 8) {
      return static_cast<float>(reinterpret_cast<const int8_t*>(w)[static_cast<long>(row) * in + k]) * s;
    } else {
      const uint8_t byte = w[static_cast<long>(row) * (in / 2) + k / 2];
      const int nib = (k & 1) ? byte >> 4 : byte & 0xF;
      return static_cast<float>((nib ^ 8) - 8) * s;
    }
  }
}

template <int kBits, class OutT>
__global__ void __launch_bounds__(kGenericWarps * 32)
    quant_gemm_generic_warp_per_row(OutT* __restrict__ y, const __half* __restrict__ x,
                                    const uint8_t* __restrict__ w,
                                    const __half* __restrict__ scales,
                                    const __half* __restrict__ bias, int n, int out, int in,
                                    int group) {
  const int row = blockIdx.x * kGenericWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= out) return;
  for (int r = 0; r < n; ++r) {
    float acc = 0.0f;
    for (int k = lane; k < in; k += 32)
      acc = fmaf(weight_value<kBits>(w, scales, row, k, in, group),
                 __half2float(x[static_cast<long>(r) * in + k]), acc);
    acc = warp_sum(acc);
    if (lane == 0) store_out(y, static_cast<long>(r) * out + row, acc + bias_at(bias, row));
  }
}

// ---- quantize: W -> q, scales ------------------------------------------------------------
// One warp per (row, group): absmax by warp reduction, scale = min(absmax / qmax, 65504)
// rounded to fp16 (as kernels/cpu/quant_pack.cpp),
// q = clamp(round_half_away(w / float(scale_fp16))) with IEEE division (nvcc's default
// -prec-div=true), int4 packed low nibble first. Bit-identical to the format's definition.
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

__device__ __forceinline__ int quantize_one(float v, float scale, float qmax) {
  if (scale == 0.0f) return 0;
  return static_cast<int>(fminf(fmaxf(roundf(v / scale), -qmax), qmax));
}

template <class SrcT>
__global__ void quantize_warp_per_group(uint8_t* __restrict__ q, __half* __restrict__ scales,
                                        const SrcT* __restrict__ w, int out, int in, int group,
                                        int bits) {
  const int groups = in / group;
  const long id = (static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (id >= static_cast<long>(out) * groups) return;
  const int row = static_cast<int>(id / groups), gi = static_cast<int>(id % groups);
  const SrcT* src = w + static_cast<long>(row) * in + static_cast<long>(gi) * group;

  float m = 0.0f;
  for (int k = lane; k < group; k += 32) m = fmaxf(m, fabsf(to_float(src[k])));
  m = warp_max(m);
  const float qmax = bits == 8 ? 127.0f : 7.0f;
  const __half sh = __float2half_rn(fminf(m / qmax, 65504.0f));  // never an inf scale
  const float s = __half2float(sh);
  if (lane == 0) scales[id] = sh;

  if (bits == 8) {
    int8_t* dst = reinterpret_cast<int8_t*>(q) + static_cast<long>(row) * in + static_cast<long>(gi) * group;
    for (int k = lane; k < group; k += 32)
      dst[k] = static_cast<int8_t>(quantize_one(to_float(src[k]), s, qmax));
  } else {
    uint8_t* dst = q + static_cast<long>(row) * (in / 2) + static_cast<long>(gi) * (group / 2);
    for (int j = lane; j < group / 2; j += 32) {
      const int lo = quantize_one(to_float(src[2 * j]), s, qmax);
      const int hi = quantize_one(to_float(src[2 * j + 1]), s, qmax);
      dst[j] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
    }
  }
}

// ---- launchers -----------------------------------------------------------------------------

template <int kBits, class OutT>
cudaError_t launch_typed(const QuantGemmArgs& a, const QuantGemmPlan& p, cudaStream_t s) {
  OutT* y = static_cast<OutT*>(a.y);
  const __half* x = reinterpret_cast<const __half*>(a.x);
  const __half* sc = reinterpret_cast<const __half*>(a.scales);
  const __half* bias = reinterpret_cast<const __half*>(a.bias);
  switch (p.path) {
    case QuantGemmPath::gemv: {
      auto* kernel = quant_gemv_warp_rows<kBits, OutT>;
      if (p.smem_bytes > 48 * 1024) {
        const cudaError_t e = cudaFuncSetAttribute(
            kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, p.smem_bytes);
        if (e != cudaSuccess) return e;
      }
      for (int r = 0; r < a.n; ++r)  // one launch per row of x (n == 1 in the common case)
        kernel<<<p.grid, p.block, p.smem_bytes, s>>>(y + static_cast<long>(r) * a.out,
                                                     x + static_cast<long>(r) * a.in, a.w, sc,
                                                     bias, a.out, a.in, a.group);
      return cudaGetLastError();
    }
    case QuantGemmPath::mma: {
      if constexpr (kBits == 16) {
        return cudaErrorInvalidValue;  // the plan never sends fp16 weights here
      } else {
        for (int n0 = 0; n0 < a.n; n0 += p.n_per_launch) {
          const int nc = a.n - n0 < p.n_per_launch ? a.n - n0 : p.n_per_launch;
          // The last chunk may need fewer tiles than the plan's (e.g. n = 70: 64 + 6).
          const int tiles = mma_tiles_for(nc);
          OutT* yc = y + static_cast<long>(n0) * a.out;
          const __half* xc = x + static_cast<long>(n0) * a.in;
#define GLM_QUANT_MMA(T)                                                                \
  quant_gemm_mma_m16<kBits, T, OutT><<<p.grid, p.block, 0, s>>>(yc, xc, a.w, sc, bias, nc, \
                                                                a.out, a.in, a.group)
          switch (tiles) {
            case 1: GLM_QUANT_MMA(1); break;
            case 2: GLM_QUANT_MMA(2); break;
            case 4: GLM_QUANT_MMA(4); break;
            default: GLM_QUANT_MMA(8); break;
          }
#undef GLM_QUANT_MMA
        }
        return cudaGetLastError();
      }
    }
    case QuantGemmPath::generic:
      quant_gemm_generic_warp_per_row<kBits, OutT>
          <<<p.grid, p.block, 0, s>>>(y, x, a.w, sc, bias, a.n, a.out, a.in, a.group);
      return cudaGetLastError();
  }
  return cudaErrorInvalidValue;
}

template <int kBits>
cudaError_t launch_bits(const QuantGemmArgs& a, const QuantGemmPlan& p, cudaStream_t s) {
  return a.y_f16 ? launch_typed<kBits, __half>(a, p, s) : launch_typed<kBits, float>(a, p, s);
}

}  // namespace

cudaError_t launch_quant_gemm(const QuantGemmArgs& a, const QuantGemmPlan& plan, cudaStream_t s) {
  if (a.n == 0 || a.out == 0) return cudaSuccess;
  switch (a.bits) {
    case 4: return launch_bits<4>(a, plan, s);
    case 8: return launch_bits<8>(a, plan, s);
    case 16: return launch_bits<16>(a, plan, s);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_quantize_weight(std::uint8_t* q, std::uint16_t* scales, const void* w,
                                   bool w_f16, int out, int in, int group, int bits,
                                   cudaStream_t s) {
  if (out == 0 || in == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const long warps = static_cast<long>(out) * (in / group);
  const int grid = static_cast<int>((warps * 32 + kThreads - 1) / kThreads);
  __half* sc = reinterpret_cast<__half*>(scales);
  if (w_f16)
    quantize_warp_per_group<<<grid, kThreads, 0, s>>>(q, sc, static_cast<const __half*>(w), out,
                                                      in, group, bits);
  else
    quantize_warp_per_group<<<grid, kThreads, 0, s>>>(q, sc, static_cast<const float*>(w), out,
                                                      in, group, bits);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
