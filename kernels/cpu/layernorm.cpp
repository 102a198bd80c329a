// LayerNorm and the DeepNorm residual + LayerNorm on CPU (math in kernels/layernorm.h).
//
// What makes it fast: one row (h floats, a few KB) is read from memory once and every pass
// over it (residual sum, mean, variance, normalise) then runs in L1; the passes are
// `omp simd` loops compiled per ISA (target_clones), rows are split over threads. The
// backward computes dx per row and accumulates dgamma/dbeta into per-thread partial rows
// that are summed in thread order afterwards (deterministic, no atomics), so the whole
// backward is a single pass over dy, dres and x. 16-bit rows (x, y, s, a, f, dy, dres, dx)
// are read and written natively through a thread's fp32 row buffers (kernels/cpu/row16.h);
// the statistics, gamma, beta and their gradients arrive as fp32 (kernels/layernorm.cpp).
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {

namespace {

// Mean and rstd of one row in two passes over L1 (the two-pass variance avoids the
// cancellation of E[x^2] - E[x]^2), then y = (x - mean) * rstd * gamma + beta.
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void normalize_row(
    float* y, float* mean_out, float* rstd_out, const float* x, const float* gamma,
    const float* beta, std::int64_t h, float eps) {
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t j = 0; j < h; ++j) sum += x[j];
  const float mean = sum / static_cast<float>(h);
  float var = 0.f;
#pragma omp simd reduction(+ : var)
  for (std::int64_t j = 0; j < h; ++j) var += (x[j] - mean) * (x[j] - mean);
  const float rstd = 1.f / std::sqrt(var / static_cast<float>(h) + eps);
#pragma omp simd
  for (std::int64_t j = 0; j < h; ++j) y[j] = (x[j] - mean) * rstd * gamma[j] + beta[j];
  *mean_out = mean;
  *rstd_out = rstd;
}

// s = alpha * a + f, written once; the statistics passes then read s from L1.
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void residual_row(
    float* s, const float* a, const float* f, float alpha, std::int64_t h) {
#pragma omp simd
  for (std::int64_t j = 0; j < h; ++j) s[j] = alpha * a[j] + f[j];
}

// One row of the backward; dgamma/dbeta go into this thread's partial rows (fp32: a thread
// sums at most R/threads rows).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void backward_row(
    float* dx, float* dgamma_part, float* dbeta_part, const float* dy, const float* dres,
    float alpha_res, const float* x, float mean, float rstd, const float* gamma, std::int64_t h) {
  // g = dy + alpha_res * dres; xhat = (x - mean) * rstd
  // m1 = mean(gamma*g), m2 = mean(gamma*g*xhat); dx = rstd * (gamma*g - m1 - xhat*m2)
  float s1 = 0.f, s2 = 0.f;
  if (dres) {
#pragma omp simd reduction(+ : s1, s2)
    for (std::int64_t j = 0; j < h; ++j) {
      float g = dy[j] + alpha_res * dres[j];
      float xhat = (x[j] - mean) * rstd;
      float gg = gamma[j] * g;
      s1 += gg;
      s2 += gg * xhat;
      dgamma_part[j] += g * xhat;
      dbeta_part[j] += g;
    }
  } else {
#pragma omp simd reduction(+ : s1, s2)
    for (std::int64_t j = 0; j < h; ++j) {
      float g = dy[j];
      float xhat = (x[j] - mean) * rstd;
      float gg = gamma[j] * g;
      s1 += gg;
      s2 += gg * xhat;
      dgamma_part[j] += g * xhat;
      dbeta_part[j] += g;
    }
  }
  const float m1 = s1 / static_cast<float>(h), m2 = s2 / static_cast<float>(h);
  if (dres) {
#pragma omp simd
    for (std::int64_t j = 0; j < h; ++j) {
      float g = dy[j] + alpha_res * dres[j];
      float xhat = (x[j] - mean) * rstd;
      dx[j] = rstd * (gamma[j] * g - m1 - xhat * m2);
    }
  } else {
#pragma omp simd
    for (std::int64_t j = 0; j < h; ++j) {
      float xhat = (x[j] - mean) * rstd;
      dx[j] = rstd * (gamma[j] * dy[j] - m1 - xhat * m2);
    }
  }
}

}  // namespace

void layernorm_forward(Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& x, const Tensor& gamma,
                       const Tensor& beta, float eps) {
  const std::int64_t h = x.size(-1), R = rows_of(x);
  float *MEAN = mean.data<float>(), *RSTD = rstd.data<float>();
  const float *G = gamma.data<float>(), *BT = beta.data<float>();
#pragma omp parallel if (R * h >= kParallelMin)
  {
    std::vector<float> buf(static_cast<std::size_t>(2 * h));  // 16-bit x and y rows
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      float* yr = out_row(y, r, h, buf.data() + h);
      normalize_row(yr, MEAN + r, RSTD + r, in_row(x, r, h, buf.data()), G, BT, h, eps);
      finish_row(y, r, h, yr);
    }
  }
}

void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& a,
                                const Tensor& f, float alpha, const Tensor& gamma,
                                const Tensor& beta, float eps) {
  const std::int64_t h = a.size(-1), R = rows_of(a);
  float *MEAN = mean.data<float>(), *RSTD = rstd.data<float>();
  const float *G = gamma.data<float>(), *BT = beta.data<float>();
#pragma omp parallel if (R * h >= kParallelMin)
  {
    std::vector<float> buf(static_cast<std::size_t>(4 * h));  // 16-bit a, f, s and y rows
    float *ab = buf.data(), *fb = ab + h, *sb = fb + h, *yb = sb + h;
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      float *sr = out_row(s, r, h, sb), *yr = out_row(y, r, h, yb);
      residual_row(sr, in_row(a, r, h, ab), in_row(f, r, h, fb), alpha, h);
      normalize_row(yr, MEAN + r, RSTD + r, sr, G, BT, h, eps);
      finish_row(s, r, h, sr);
      finish_row(y, r, h, yr);
    }
  }
}

void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma) {
  const std::int64_t h = x.size(-1), R = rows_of(x);
  const float *MEAN = mean.data<float>(), *RSTD = rstd.data<float>(), *G = gamma.data<float>();
  const int nt = R * h >= kParallelMin ? omp_get_max_threads() : 1;
  // Per-thread partial [dgamma | dbeta] rows, reduced in thread order below.
  std::vector<float> parts(static_cast<std::size_t>(nt) * 2 * h, 0.f);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const Range rows = thread_range(R, t, omp_get_num_threads());
    float* pg = parts.data() + static_cast<std::size_t>(t) * 2 * h;
    std::vector<float> buf(static_cast<std::size_t>(4 * h));  // 16-bit dx, dy, dres, x rows
    float *dxb = buf.data(), *dyb = dxb + h, *drb = dyb + h, *xb = drb + h;
    for (std::int64_t r = rows.begin; r < rows.end; ++r) {
      float* dxr = out_row(dx, r, h, dxb);
      const float* dres_row = dres ? in_row(*dres, r, h, drb) : nullptr;
      backward_row(dxr, pg, pg + h, in_row(dy, r, h, dyb), dres_row, alpha_res,
                   in_row(x, r, h, xb), MEAN[r], RSTD[r], G, h);
      finish_row(dx, r, h, dxr);
    }
  }
  float *DG = dgamma.data<float>(), *DB = dbeta.data<float>();
  for (int t = 0; t < nt; ++t) {
    const float* pg = parts.data() + static_cast<std::size_t>(t) * 2 * h;
    for (std::int64_t j = 0; j < h; ++j) {
      DG[j] += pg[j];
      DB[j] += pg[h + j];
    }
  }
}

}  // namespace glm::kernels::cpu
