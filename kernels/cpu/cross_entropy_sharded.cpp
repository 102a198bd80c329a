// Vocab-parallel cross-entropy pieces on CPU (kernels/cross_entropy.h): the per-shard
// passes of the fused kernel in cross_entropy.cpp, split where the ranks must combine
// their row maxima and sums. Rows are split over threads; exp is vec_math's polynomial.
// 16-bit logits are read (and, for the gradient, written) a row at a time through a
// thread's fp32 buffer (kernels/cpu/row16.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"
#include "kernels/cpu/vec_math.h"

namespace glm::kernels::cpu {

void sharded_ce_row_max(Tensor& row_max, const Tensor& logits) {
  const std::int64_t R = logits.size(0), V = logits.size(1);
  float* M = row_max.data<float>();
#pragma omp parallel if (R * V >= kParallelMin)
  {
    std::vector<float> buf = row_buffer(logits, V);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      float m = -std::numeric_limits<float>::infinity();
      const float* x = in_row(logits, r, V, buf.data());
#pragma omp simd reduction(max : m)
      for (std::int64_t j = 0; j < V; ++j) m = x[j] > m ? x[j] : m;
      M[r] = m;
    }
  }
}

void sharded_ce_partials(Tensor& partials, const Tensor& logits, const Tensor& targets,
                         const Tensor& row_max, std::int64_t vocab_start) {
  const std::int64_t R = logits.size(0), V = logits.size(1);
  const float* M = row_max.data<float>();
  const std::int32_t* T = targets.data<std::int32_t>();
  float* P = partials.data<float>();
#pragma omp parallel if (R * V >= kParallelMin)
  {
    std::vector<float> buf = row_buffer(logits, V);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      const float* x = in_row(logits, r, V, buf.data());
      const float m = M[r];
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (std::int64_t j = 0; j < V; ++j) sum += exp_approx(x[j] - m);
      const std::int64_t local = std::int64_t{T[r]} - vocab_start;
      P[2 * r] = T[r] < 0 ? 0.f : sum;
      P[2 * r + 1] = T[r] >= 0 && local >= 0 && local < V ? x[local] : 0.f;
    }
  }
}

void sharded_ce_finish(Tensor& losses, Tensor& logits, const Tensor& targets,
                       const Tensor& row_max, const Tensor& totals, std::int64_t vocab_start,
                       float grad_scale, bool write_grad) {
  const std::int64_t R = logits.size(0), V = logits.size(1);
  const float *M = row_max.data<float>(), *S = totals.data<float>();
  const std::int32_t* T = targets.data<std::int32_t>();
  float* L = losses.data<float>();
#pragma omp parallel if (R * V >= kParallelMin)
  {
    std::vector<float> buf = row_buffer(logits, V);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      if (T[r] < 0) {
        L[r] = 0.f;
        if (write_grad) {
          float* x = out_row(logits, r, V, buf.data());
          std::fill(x, x + V, 0.f);
          finish_row(logits, r, V, x);
        }
        continue;
      }
      const float m = M[r], sum = S[2 * r];
      // loss = logsumexp over the whole vocabulary - the target's logit
      L[r] = std::log(sum) + (m - S[2 * r + 1]);
      if (!write_grad) continue;
      float* x = inout_row(logits, r, V, buf.data());
      const float k = grad_scale / sum;
#pragma omp simd
      for (std::int64_t j = 0; j < V; ++j) x[j] = exp_approx(x[j] - m) * k;
      const std::int64_t local = std::int64_t{T[r]} - vocab_start;
      if (local >= 0 && local < V) x[local] -= grad_scale;
      finish_row(logits, r, V, x);
    }
  }
}

}  // namespace glm::kernels::cpu
