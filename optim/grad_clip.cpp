// Gradient-norm pieces (optim/grad_clip.h).
//
// Deterministic for any thread count: the sum is cut into fixed blocks of kSumBlock
// elements, each block summed in fp64 by one `omp simd` loop, and the block sums added in
// block order by one thread.
#include "optim/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/elementwise.h"

namespace glm::optim {

namespace {

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) double block_sum_squares(
    const float* x, std::int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void require_grad(const char* op, const Tensor& grad) {
  GLM_CHECK(grad.device().is_cpu() && grad.dtype() == DType::f32 && grad.is_contiguous(),
            "{}: gradient must be a contiguous f32 CPU tensor, got {}", op, grad.describe());
}

}  // namespace

double local_sum_squares(const Tensor& grad, ElementRange range) {
  require_grad("local_sum_squares", grad);
  GLM_CHECK(range.begin >= 0 && range.begin <= range.end && range.end <= grad.numel(),
            "local_sum_squares: range [{}, {}) outside the gradient's {} elements", range.begin,
            range.end, grad.numel());
  const float* x = grad.data<float>() + range.begin;
  const std::int64_t n = range.size();
  const std::int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks));
#pragma omp parallel for schedule(static) if (blocks > 8)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t i0 = b * kSumBlock;
    partial[b] = block_sum_squares(x + i0, std::min(kSumBlock, n - i0));
  }
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

double local_sum_squares(const Tensor& grad) {
  return local_sum_squares(grad, ElementRange{0, grad.numel()});
}

double clip_coefficient(double total_norm, double max_norm) {
  if (max_norm <= 0 || !std::isfinite(total_norm)) return 1.0;
  return std::min(1.0, max_norm / (total_norm + kClipEps));
}

void apply_clip(Tensor& grad, double coeff) {
  require_grad("apply_clip", grad);
  if (coeff == 1.0) return;
  kernels::scale(grad, static_cast<float>(coeff));
}

double clip_grad_norm(Tensor& grad, double max_norm) {
  const double norm = std::sqrt(local_sum_squares(grad));
  apply_clip(grad, clip_coefficient(norm, max_norm));
  return norm;
}

}  // namespace glm::optim
