// Fused softmax + cross-entropy on CPU (kernels/cross_entropy.h).
//
// What makes it fast: a row of logits (V floats, 128 KB for V = 32000) is read from memory
// once and then stays in L2 for its three vectorised passes: max, sum of exp (which also
// stores exp(x - max) into the row when the gradient is wanted) and the final scaling into
// dlogits. exp is the branch-free polynomial of vec_math.h, so the passes vectorise
// (libm expf would be a scalar call per element). Rows are split over threads. 16-bit
// logits are read and written natively: each row widened into a thread's fp32 buffer and
// rounded back once (kernels/cpu/row16.h), so no fp32 copy of the [R, V] logits exists.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"
#include "kernels/cpu/vec_math.h"

namespace glm::kernels::cpu {

namespace {

// Returns the loss of one row; with write_grad, the row becomes grad_scale*(softmax - onehot).
// target < 0: an ignored row (loss 0, gradient 0).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) float ce_row(
    float* x, std::int64_t V, std::int32_t target, float grad_scale, bool write_grad) {
  if (target < 0) {
    if (write_grad)
      for (std::int64_t j = 0; j < V; ++j) x[j] = 0.f;
    return 0.f;
  }
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (std::int64_t j = 0; j < V; ++j) m = x[j] > m ? x[j] : m;
  const float x_target = x[target];
  float sum = 0.f;
  if (write_grad) {
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < V; ++j) {
      const float e = exp_approx(x[j] - m);
      x[j] = e;
      sum += e;
    }
    const float k = grad_scale / sum;
#pragma omp simd
    for (std::int64_t j = 0; j < V; ++j) x[j] *= k;
    x[target] -= grad_scale;
  } else {
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < V; ++j) sum += exp_approx(x[j] - m);
  }
  // loss = logsumexp(x) - x[t] = log(sum) + m - x[t]
  return std::log(sum) + (m - x_target);
}

}  // namespace

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets, float grad_scale,
                           bool write_grad) {
  const std::int64_t R = logits.size(0), V = logits.size(1);
  const std::int32_t* T = targets.data<std::int32_t>();
  for (std::int64_t r = 0; r < R; ++r)
    if (T[r] >= V)
      throw InputError(fmt::format(
          "cross-entropy: target {} at row {} is outside the vocabulary [0, {})", T[r], r, V));
  float* L = losses.data<float>();
#pragma omp parallel if (R * V >= kParallelMin)
  {
    std::vector<float> buf = row_buffer(logits, V);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      float* x = inout_row(logits, r, V, buf.data());
      L[r] = ce_row(x, V, T[r], grad_scale, write_grad);
      if (write_grad) finish_row(logits, r, V, x);
    }
  }
}

}  // namespace glm::kernels::cpu
