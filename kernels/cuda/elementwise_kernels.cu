// Elementwise ops and reductions, then their launchers. Grid-stride loops (memory-bound:
// one pass, coalesced). sum_squares reduces in fp64 in two fixed stages (per-block partials,
// then one block in order), so its result does not depend on scheduling.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"

namespace glm::kernels::cuda {
namespace {

#define GRID_STRIDE(i, n)                                                                   \
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; \
       i < (n); i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

__global__ void scaled_add_grid_stride(FloatOut y, float alpha, FloatIn a, FloatIn b,
                                       std::int64_t n) {
  GRID_STRIDE(i, n) store(y, i, alpha * load(a, i) + load(b, i));
}

__global__ void axpy_grid_stride(float* y, float alpha, const float* x, std::int64_t n) {
  GRID_STRIDE(i, n) y[i] += alpha * x[i];
}

__global__ void scale_grid_stride(float* y, float alpha, std::int64_t n) {
  GRID_STRIDE(i, n) y[i] *= alpha;
}

// Block-wide fp64 sum of one value per thread (blockDim.x == 256).
__device__ double block_sum_256(double v) {
  __shared__ double part[8];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0;
  if (threadIdx.x == 0)
    for (int w = 0; w < 8; ++w) s += part[w];
  return s;  // valid in thread 0
}

__global__ void sum_squares_block_partials(double* partials, const float* x, std::int64_t n) {
  double s = 0;
  GRID_STRIDE(i, n) s += static_cast<double>(x[i]) * x[i];
  const double total = block_sum_256(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void sum_partials_in_order(double* out, const double* partials, int count) {
  double s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  const double total = block_sum_256(s);
  if (threadIdx.x == 0) *out = total;
}

__global__ void nonfinite_flag_grid_stride(unsigned* flag, const float* x, std::int64_t n) {
  unsigned bad = 0;
  GRID_STRIDE(i, n) bad |= (__float_as_uint(x[i]) & 0x7F800000u) == 0x7F800000u;
  if (__any_sync(0xffffffffu, bad) && threadIdx.x % 32 == 0) atomicOr(flag, 1u);
}

__global__ void gather_rows_grid_stride(FloatOut out, FloatIn src, const std::int32_t* index,
                                        std::int64_t R, std::int64_t h, std::int64_t src_rows,
                                        int* bad_row) {
  GRID_STRIDE(t, R * h) {
    const std::int64_t r = t / h, c = t % h;
    const std::int32_t idx = index[r];
    if (idx < 0 || idx >= src_rows) {
      if (c == 0) atomicMin(bad_row, static_cast<int>(r));
      store(out, t, 0.f);
    } else {
      store(out, t, load(src, static_cast<std::int64_t>(idx) * h + c));
    }
  }
}

// rows[r] = r (the values the sort carries), and the first bad index's row.
__global__ void number_rows_check_index(std::int32_t* rows, const std::int32_t* index, int R,
                                        std::int64_t dst_rows, int* bad_row) {
  GRID_STRIDE(r, R) {
    rows[r] = static_cast<std::int32_t>(r);
    if (index[r] < 0 || index[r] >= dst_rows) atomicMin(bad_row, static_cast<int>(r));
  }
}

// keys/rows: the indices sorted stably with their row numbers. A y position that starts a
// run of equal keys owns that destination: x threads over its columns add the run's rows in
// order to the stored value in fp32 and store once.
__global__ void add_sorted_row_groups(FloatOut dst, FloatIn src, const std::int32_t* keys,
                                      const std::int32_t* rows, int R, std::int64_t h,
                                      std::int64_t dst_rows) {
  for (int i = blockIdx.y; i < R; i += gridDim.y) {
    const std::int32_t d = keys[i];
    if ((i > 0 && keys[i - 1] == d) || d < 0 || d >= dst_rows) continue;
    GRID_STRIDE(c, h) {
      float acc = load(dst, d * h + c);
      for (int j = i; j < R && keys[j] == d; ++j)
        acc = __fadd_rn(acc, load(src, static_cast<std::int64_t>(rows[j]) * h + c));
      store(dst, d * h + c, acc);
    }
  }
}

// The workspace: row numbers, sorted keys, sorted row numbers, then cub's temporary storage.
struct ScatterWorkspace {
  std::int32_t *rows, *keys, *sorted_rows;
  void* sort_temp;
  std::size_t sort_bytes;
};
constexpr std::size_t kWorkspaceAlign = 256;
std::size_t aligned(std::size_t bytes) {
  return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}
std::size_t radix_sort_bytes(int R) {
  std::size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const std::int32_t*>(nullptr),
                                  static_cast<std::int32_t*>(nullptr),
                                  static_cast<const std::int32_t*>(nullptr),
                                  static_cast<std::int32_t*>(nullptr), R);
  return bytes;
}
ScatterWorkspace split_workspace(void* base, int R) {
  auto* p = static_cast<char*>(base);
  const std::size_t ints = aligned(sizeof(std::int32_t) * static_cast<std::size_t>(R));
  return {reinterpret_cast<std::int32_t*>(p), reinterpret_cast<std::int32_t*>(p + ints),
          reinterpret_cast<std::int32_t*>(p + 2 * ints), p + 3 * ints, radix_sort_bytes(R)};
}

constexpr int kThreads = 256;

}  // namespace

cudaError_t launch_scaled_add(FloatOut y, float alpha, FloatIn a, FloatIn b,
                              std::int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  scaled_add_grid_stride<<<grid_stride_blocks(n, kThreads), kThreads, 0, s>>>(y, alpha, a, b, n);
  return cudaGetLastError();
}

cudaError_t launch_axpy(float* y, float alpha, const float* x, std::int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  axpy_grid_stride<<<grid_stride_blocks(n, kThreads), kThreads, 0, s>>>(y, alpha, x, n);
  return cudaGetLastError();
}

cudaError_t launch_scale(float* y, float alpha, std::int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  scale_grid_stride<<<grid_stride_blocks(n, kThreads), kThreads, 0, s>>>(y, alpha, n);
  return cudaGetLastError();
}

cudaError_t launch_sum_squares(double* out, double* partials, const float* x, std::int64_t n,
                               cudaStream_t s) {
  sum_squares_block_partials<<<kSumSquaresBlocks, kThreads, 0, s>>>(partials, x, n);
  sum_partials_in_order<<<1, kThreads, 0, s>>>(out, partials, kSumSquaresBlocks);
  return cudaGetLastError();
}

cudaError_t launch_nonfinite_flag(unsigned* flag, const float* x, std::int64_t n,
                                  cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  nonfinite_flag_grid_stride<<<grid_stride_blocks(n, kThreads, 4096), kThreads, 0, s>>>(flag, x,
                                                                                        n);
  return cudaGetLastError();
}

cudaError_t launch_gather_rows(FloatOut out, FloatIn src, const std::int32_t* index,
                               std::int64_t R, std::int64_t h, std::int64_t src_rows,
                               int* bad_row, cudaStream_t s) {
  if (R * h == 0) return cudaSuccess;
  gather_rows_grid_stride<<<grid_stride_blocks(R * h, kThreads), kThreads, 0, s>>>(
      out, src, index, R, h, src_rows, bad_row);
  return cudaGetLastError();
}

std::size_t scatter_add_rows_workspace_bytes(std::int64_t R) {
  if (R <= 0 || R > INT_MAX) return 0;
  const int n = static_cast<int>(R);
  return 3 * aligned(sizeof(std::int32_t) * static_cast<std::size_t>(n)) + radix_sort_bytes(n);
}

cudaError_t launch_scatter_add_rows(FloatOut dst, FloatIn src, const std::int32_t* index,
                                    std::int64_t R, std::int64_t h, std::int64_t dst_rows,
                                    void* workspace, std::size_t workspace_bytes, int* bad_row,
                                    cudaStream_t s) {
  if (R * h == 0) return cudaSuccess;
  if (R > INT_MAX || workspace_bytes < scatter_add_rows_workspace_bytes(R))
    return cudaErrorInvalidValue;
  const int n = static_cast<int>(R);
  ScatterWorkspace w = split_workspace(workspace, n);
  number_rows_check_index<<<grid_stride_blocks(n, kThreads), kThreads, 0, s>>>(w.rows, index, n,
                                                                               dst_rows, bad_row);
  // Stable: equal indices keep their row order, which fixes each destination's sum order.
  const cudaError_t sorted = cub::DeviceRadixSort::SortPairs(
      w.sort_temp, w.sort_bytes, index, w.keys, w.rows, w.sorted_rows, n, 0,
      static_cast<int>(sizeof(std::int32_t) * 8), s);
  if (sorted != cudaSuccess) return sorted;
  const dim3 grid(static_cast<unsigned>(grid_stride_blocks(h, kThreads)),
                  static_cast<unsigned>(std::min(n, 65535)));
  add_sorted_row_groups<<<grid, kThreads, 0, s>>>(dst, src, w.keys, w.sorted_rows, n, h, dst_rows);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
