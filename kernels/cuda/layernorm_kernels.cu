// LayerNorm kernels, then launchers (math in kernels/layernorm.h).
//
// Forward: one warp per row; the row is read three times (residual sum + mean, variance,
// normalise) but after the first pass it sits in L1/L2. Two-pass variance as on the CPU.
// Backward: dx one warp per row (two passes: the row sums m1, m2, then dx); dgamma/dbeta in
// two stages without atomics: every chunk of rows writes a partial row (threads along the
// columns, coalesced), then the partials are summed in chunk order and added (+=), so the
// result is the same on every run. The linear bias gradient reuses the same scheme.
#include <cuda_runtime.h>

#include "kernels/cuda/float_kind.cuh"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/layernorm_launch.h"

namespace glm::kernels::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // warps per block, one row each

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// With a residual the row is s = alpha * a + f, recomputed in fp32 on each pass (one fused
// multiply-add) rather than read back from s, so a 16-bit s is rounded once, on its store, and
// the statistics see the fp32 sum as on the CPU.
__global__ void layernorm_fwd_warp_per_row(FloatOut y, float* mean_out, float* rstd_out,
                                           FloatOut s, FloatIn a_res, float alpha, FloatIn xf,
                                           const float* gamma, const float* beta,
                                           std::int64_t R, std::int64_t h, float eps) {
  const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= R) return;
  const long row = r * h;
  const auto x = [&](std::int64_t j) {
    return a_res.p ? __fmaf_rn(alpha, load(a_res, row + j), load(xf, row + j)) : load(xf, row + j);
  };
  float sum = 0.f;
  for (std::int64_t j = lane; j < h; j += 32) {
    const float v = x(j);
    if (a_res.p) store(s, row + j, v);
    sum += v;
  }
  const float mean = warp_sum(sum) / static_cast<float>(h);
  float var = 0.f;
  for (std::int64_t j = lane; j < h; j += 32) var += (x(j) - mean) * (x(j) - mean);
  const float rstd = 1.f / sqrtf(warp_sum(var) / static_cast<float>(h) + eps);
  for (std::int64_t j = lane; j < h; j += 32)
    store(y, row + j, (x(j) - mean) * rstd * gamma[j] + beta[j]);
  if (lane == 0) {
    mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
}

// g = dy + alpha_res * dres; xhat = (x - mean) * rstd
// m1 = mean(gamma*g), m2 = mean(gamma*g*xhat); dx = rstd * (gamma*g - m1 - xhat*m2)
__global__ void layernorm_bwd_dx_warp_per_row(FloatOut dx, FloatIn dy, FloatIn dres,
                                              float alpha_res, FloatIn x, const float* mean,
                                              const float* rstd, const float* gamma,
                                              std::int64_t R, std::int64_t h) {
  const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= R) return;
  const float mu = mean[r], rs = rstd[r];
  const long row = r * h;
  const auto grad = [&](std::int64_t j) {
    return dres.p ? load(dy, row + j) + alpha_res * load(dres, row + j) : load(dy, row + j);
  };
  float s1 = 0.f, s2 = 0.f;
  for (std::int64_t j = lane; j < h; j += 32) {
    const float gg = gamma[j] * grad(j);
    s1 += gg;
    s2 += gg * ((load(x, row + j) - mu) * rs);
  }
  const float m1 = warp_sum(s1) / static_cast<float>(h), m2 = warp_sum(s2) / static_cast<float>(h);
  for (std::int64_t j = lane; j < h; j += 32) {
    const float xhat = (load(x, row + j) - mu) * rs;
    store(dx, row + j, rs * (gamma[j] * grad(j) - m1 - xhat * m2));
  }
}

// partials[chunk][j] = sum over the chunk's rows of g*xhat, partials[chunk][h + j] = sum g.
__global__ void layernorm_bwd_param_partials_column_per_thread(
    float* partials, FloatIn dy, FloatIn dres, float alpha_res, FloatIn x, const float* mean,
    const float* rstd, std::int64_t R, std::int64_t h, int chunks) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  const int chunk = blockIdx.y;
  if (j >= h) return;
  const std::int64_t r0 = R * chunk / chunks, r1 = R * (chunk + 1) / chunks;
  float sg = 0.f, sgx = 0.f;
  for (std::int64_t r = r0; r < r1; ++r) {
    const long i = r * h + j;
    const float g = dres.p ? load(dy, i) + alpha_res * load(dres, i) : load(dy, i);
    sgx += g * ((load(x, i) - mean[r]) * rstd[r]);
    sg += g;
  }
  partials[chunk * 2 * h + j] = sgx;
  partials[chunk * 2 * h + h + j] = sg;
}

// out[k][j] += sum over chunks c (in order) of partials[c][k*n + j], for k < parts.
__global__ void add_partials_in_chunk_order(float* out0, float* out1, const float* partials,
                                            std::int64_t n, int chunks, int parts) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (j >= n) return;
  float s0 = 0.f, s1 = 0.f;
  for (int c = 0; c < chunks; ++c) {
    s0 += partials[c * parts * n + j];
    if (parts == 2) s1 += partials[c * parts * n + n + j];
  }
  out0[j] += s0;
  if (parts == 2) out1[j] += s1;
}

__global__ void column_sum_partials_column_per_thread(float* partials, FloatIn dy, std::int64_t R,
                                                      std::int64_t n, int chunks) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  const int chunk = blockIdx.y;
  if (j >= n) return;
  const std::int64_t r0 = R * chunk / chunks, r1 = R * (chunk + 1) / chunks;
  float s = 0.f;
  for (std::int64_t r = r0; r < r1; ++r) s += load(dy, r * n + j);
  partials[chunk * n + j] = s;
}

__global__ void fill_rows_grid_stride(float* y, const float* b, std::int64_t R, std::int64_t n) {
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       t < R * n; t += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    y[t] = b[t % n];
}

unsigned row_blocks(std::int64_t R) {
  return static_cast<unsigned>(ceil_div(R, kRowsPerBlock));
}

}  // namespace

cudaError_t launch_layernorm_forward(FloatOut y, float* mean, float* rstd, FloatOut s,
                                     FloatIn a_res, float alpha, FloatIn x_or_f,
                                     const float* gamma, const float* beta, std::int64_t R,
                                     std::int64_t h, float eps, cudaStream_t st) {
  if (R == 0) return cudaSuccess;
  layernorm_fwd_warp_per_row<<<row_blocks(R), 32 * kRowsPerBlock, 0, st>>>(
      y, mean, rstd, s, a_res, alpha, x_or_f, gamma, beta, R, h, eps);
  return cudaGetLastError();
}

cudaError_t launch_layernorm_backward(FloatOut dx, float* dgamma, float* dbeta, float* partials,
                                      FloatIn dy, FloatIn dres, float alpha_res, FloatIn x,
                                      const float* mean, const float* rstd,
                                      const float* gamma, std::int64_t R, std::int64_t h,
                                      cudaStream_t st) {
  if (R == 0 || h == 0) return cudaSuccess;
  layernorm_bwd_dx_warp_per_row<<<row_blocks(R), 32 * kRowsPerBlock, 0, st>>>(
      dx, dy, dres, alpha_res, x, mean, rstd, gamma, R, h);
  const int chunks = row_chunks(R);
  const dim3 grid(static_cast<unsigned>(ceil_div(h, 256)), static_cast<unsigned>(chunks));
  layernorm_bwd_param_partials_column_per_thread<<<grid, 256, 0, st>>>(
      partials, dy, dres, alpha_res, x, mean, rstd, R, h, chunks);
  add_partials_in_chunk_order<<<static_cast<unsigned>(ceil_div(h, 256)), 256, 0, st>>>(
      dgamma, dbeta, partials, h, chunks, 2);
  return cudaGetLastError();
}

cudaError_t launch_column_sums(float* db, float* partials, FloatIn dy, std::int64_t R,
                               std::int64_t n, cudaStream_t st) {
  if (R == 0 || n == 0) return cudaSuccess;
  const int chunks = row_chunks(R);
  const dim3 grid(static_cast<unsigned>(ceil_div(n, 256)), static_cast<unsigned>(chunks));
  column_sum_partials_column_per_thread<<<grid, 256, 0, st>>>(partials, dy, R, n, chunks);
  add_partials_in_chunk_order<<<static_cast<unsigned>(ceil_div(n, 256)), 256, 0, st>>>(
      db, nullptr, partials, n, chunks, 1);
  return cudaGetLastError();
}

cudaError_t launch_fill_rows(float* y, const float* b, std::int64_t R, std::int64_t n,
                             cudaStream_t st) {
  if (R * n == 0) return cudaSuccess;
  fill_rows_grid_stride<<<grid_stride_blocks(R * n, 256), 256, 0, st>>>(y, b, R, n);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
