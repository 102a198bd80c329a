// Launch-configuration arithmetic shared by the CUDA launchers (kernels/cuda/*_kernels.cu)
// and the host-side unit tests that check it without a GPU (tests/cuda/test_cuda_host_logic).
// Plain constexpr C++: no CUDA types, so it compiles with g++ and nvcc alike.
#pragma once

#include <cstdint>

namespace glm::kernels::cuda {

constexpr int kWarp = 32;

// Blocks for a grid-stride loop over n items with `threads` per block: enough to cover n,
// at least 1 (an empty launch is still a valid launch), at most max_blocks (the loop then
// strides over the rest).
constexpr int grid_stride_blocks(std::int64_t n, int threads, int max_blocks = 65535) {
  const std::int64_t blocks = (n + threads - 1) / threads;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > max_blocks ? max_blocks : blocks));
}

// ceil(a / b) for positive b.
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Output dimensions each lane of a warp owns when a warp holds one row of length d
// (d <= 256), rounded up to a power of two so the kernels are instantiated for 1, 2, 4, 8.
constexpr int dims_per_lane(std::int64_t d) {
  const std::int64_t per = ceil_div(d, kWarp);
  return per <= 1 ? 1 : per <= 2 ? 2 : per <= 4 ? 4 : 8;
}

// Flash attention tiling (attention_kernels.cu). Each block holds kFlashWarps rows (queries
// in forward and dQ, keys in dK/dV), one per warp; every lane owns `per_lane` columns of the
// other side of a tile of 32 * per_lane keys (or queries).
constexpr int kFlashWarps = 16;
constexpr int kFlashMaxHeadDim = 256;

enum class FlashKernel { forward, backward_dq, backward_dkv };

// Keys (forward, dQ) or queries (dK/dV) each lane owns in a tile: 4 for the forward at
// d <= 128 (one Philox draw covers a lane's 4 keys), otherwise 2 (1 for dK/dV at d > 128),
// so the shared-memory tiles fit an H100's 227 KB.
constexpr int flash_per_lane(FlashKernel k, std::int64_t d) {
  switch (k) {
    case FlashKernel::forward: return d <= 128 ? 4 : 2;
    case FlashKernel::backward_dq: return 2;
    case FlashKernel::backward_dkv: return d <= 128 ? 2 : 1;
  }
  return 1;
}

// Dynamic shared memory in bytes of one block (floats, layouts in attention_kernels.cu):
//   forward:      K^T [d][Bc] + V [Bc][d] + q per warp [W][d]
//   backward_dq:  K^T [d][Bc] + K [Bc][d] + V^T [d][Bc] + q, dO per warp 2 [W][d]
//   backward_dkv: Q^T [d][Br] + Q [Br][d] + dO^T [d][Br] + dO [Br][d] + k, v per warp
//                 2 [W][d] + lse, D, row limit [3][Br]
constexpr std::int64_t flash_smem_bytes(FlashKernel k, std::int64_t d) {
  const std::int64_t tile = kWarp * flash_per_lane(k, d), W = kFlashWarps;
  switch (k) {
    case FlashKernel::forward: return 4 * (2 * d * tile + W * d);
    case FlashKernel::backward_dq: return 4 * (3 * d * tile + 2 * W * d);
    case FlashKernel::backward_dkv: return 4 * (4 * d * tile + 2 * W * d + 3 * tile);
  }
  return 0;
}

// Rows of a [rows, C] dropout handled by one thread: 4 columns per Philox draw.
constexpr std::int64_t dropout_threads(std::int64_t rows, std::int64_t C) {
  return rows * ceil_div(C, 4);
}

// Column chunks of the deterministic two-stage column reductions (LayerNorm dgamma/dbeta,
// bias gradients): rows are cut into at most kMaxRowChunks chunks of at least kMinChunkRows
// rows; every chunk writes a partial row, summed in chunk order afterwards.
constexpr int kMaxRowChunks = 128;
constexpr std::int64_t kMinChunkRows = 32;
constexpr int row_chunks(std::int64_t rows) {
  const std::int64_t by_size = ceil_div(rows, kMinChunkRows);
  return static_cast<int>(by_size < 1 ? 1 : (by_size > kMaxRowChunks ? kMaxRowChunks : by_size));
}

}  // namespace glm::kernels::cuda
