// Launch-shape selection of the CUDA weight-only GEMV/GEMM (quant_gemm.h): which kernel a
// problem takes and its grid. Plain C++ (no CUDA types), shared by the launchers and the
// host unit tests, which check it without a GPU.
//
//   path      when                                                     kernel
//   gemv      n == 1, rows 16-byte aligned, in and G multiples of one  quant_gemv_warp_rows
//             16-byte chunk (32 int4 / 16 int8 / 8 fp16 elements),     (CUDA cores, x in
//             x fits in shared memory                                    shared memory)
//   mma       2 <= n, int4/int8, rows 16-byte aligned, in and G         quant_gemm_mma_m16
//             multiples of 128 (one k-block of a warp)                   (tensor cores, n in
//                                                                        chunks of 64)
//   gemv      n >= 2 where mma does not apply but gemv does: one launch per row of x
//   generic   anything else (odd shapes): a warp per output row, scalar loads
#pragma once

#include <algorithm>
#include <cstdint>

namespace glm::kernels::cuda {

enum class QuantGemmPath { gemv, mma, generic };

// Weight element width: 4 and 8 are the quantized formats, 16 the fp16 comparison.
struct QuantGemmShape {
  std::int64_t n = 1, out = 0, in = 0;
  std::int64_t group = 0;  // elements per scale along `in` (ignored for 16-bit weights)
  int bits = 4;
  bool aligned16 = true;  // x, W base pointers 16-byte aligned (cudaMalloc'd tensors are)
};

struct DeviceLimits {
  int sm_count = 132;
  int smem_per_block_optin = 227 * 1024;
  int smem_per_sm = 228 * 1024;
};

struct QuantGemmPlan {
  QuantGemmPath path = QuantGemmPath::generic;
  int grid = 1, block = 128;
  int smem_bytes = 0;     // dynamic shared memory
  int n_tiles = 0;        // mma: 8-column tiles of x per warp (1, 2, 4 or 8)
  int n_per_launch = 1;   // rows of x one launch covers (gemv: 1, mma: <= 64, generic: n)
};

inline constexpr int kGemvThreads = 256;       // 8 warps
inline constexpr int kGemvRowsPerWarp = 2;     // rows a warp streams together (x reuse)
inline constexpr int kMmaWarps = 4;            // warps per block, one 16-row tile each
inline constexpr int kMmaKBlock = 128;         // k elements a warp consumes per step
inline constexpr int kMmaMaxN = 64;            // rows of x per launch (8 tiles of 8)
inline constexpr int kGenericWarps = 4;
inline constexpr int kSmemReservedPerBlock = 1024;  // the driver's per-block reservation

// Elements in one 16-byte load of weights.
constexpr int elems_per_16_bytes(int bits) { return 128 / bits; }

constexpr bool gemv_applies(const QuantGemmShape& s, const DeviceLimits& d) {
  const int e = elems_per_16_bytes(s.bits);
  const bool groups_ok = s.bits == 16 || s.group % e == 0;
  return s.aligned16 && s.in % e == 0 && groups_ok && s.in * 2 <= d.smem_per_block_optin;
}

constexpr bool mma_applies(const QuantGemmShape& s) {
  return s.bits != 16 && s.aligned16 && s.in % kMmaKBlock == 0 && s.group % kMmaKBlock == 0;
}

constexpr int mma_tiles_for(std::int64_t n) {
  const std::int64_t tiles = (std::min<std::int64_t>(n, kMmaMaxN) + 7) / 8;
  return tiles <= 1 ? 1 : tiles <= 2 ? 2 : tiles <= 4 ? 4 : 8;
}

constexpr int clamp_grid(std::int64_t blocks) {
  return static_cast<int>(std::clamp<std::int64_t>(blocks, 1, 0x7FFFFFFF));
}

constexpr QuantGemmPlan plan_quant_gemm(const QuantGemmShape& s, const DeviceLimits& d) {
  QuantGemmPlan p;
  if (s.n >= 2 && mma_applies(s)) {
    p.path = QuantGemmPath::mma;
    p.block = kMmaWarps * 32;
    p.n_tiles = mma_tiles_for(s.n);
    p.n_per_launch = kMmaMaxN;
    p.grid = clamp_grid(((s.out + 15) / 16 + kMmaWarps - 1) / kMmaWarps);
    return p;
  }
  if (gemv_applies(s, d)) {
    // A persistent grid: every block stages x once, its warps then stride over row pairs.
    p.path = QuantGemmPath::gemv;
    p.block = kGemvThreads;
    p.smem_bytes = static_cast<int>(s.in * 2);
    const int warps = kGemvThreads / 32;
    const int by_smem = d.smem_per_sm / (p.smem_bytes + kSmemReservedPerBlock);
    const int blocks_per_sm = std::clamp(by_smem, 1, 2048 / kGemvThreads);
    const std::int64_t row_groups = (s.out + kGemvRowsPerWarp - 1) / kGemvRowsPerWarp;
    p.grid = clamp_grid(std::min<std::int64_t>((row_groups + warps - 1) / warps,
                                               static_cast<std::int64_t>(d.sm_count) * blocks_per_sm));
    p.n_per_launch = 1;
    return p;
  }
  p.path = QuantGemmPath::generic;
  p.block = kGenericWarps * 32;
  p.grid = clamp_grid((s.out + kGenericWarps - 1) / kGenericWarps);
  p.n_per_launch = static_cast<int>(std::min<std::int64_t>(s.n, 0x7FFFFFFF));
  return p;
}

}  // namespace glm::kernels::cuda
