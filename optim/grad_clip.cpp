// Gradient-norm pieces (optim/grad_clip.h).
//
// Deterministic for any thread count and ISA: the sum is cut into fixed blocks of kSumBlock
// elements, each block summed in fp64 in a fixed order (block_sum_squares), and the block
// sums added in block order by one thread.
#include "optim/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/elementwise.h"

namespace glm::optim {

namespace {

// sum x[i]^2 in fp64 with kLanes independent accumulators: lane j adds x[j], x[j+kLanes],
// ... in order, then the lanes and the tail are added in order. The vectoriser keeps the
// lanes in registers (4 zmm or 8 ymm: no add-latency chain), and since the order of every
// addition is fixed by the code, not the vector width, all ISA clones give the same bits.
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) double block_sum_squares(
    const float* x, std::int64_t n) {
  constexpr std::int64_t kLanes = 32;
  double lane[kLanes] = {};
  const std::int64_t body = n / kLanes * kLanes;
  for (std::int64_t i = 0; i < body; i += kLanes) {
#pragma omp simd
    for (std::int64_t j = 0; j < kLanes; ++j) lane[j] += static_cast<double>(x[i + j]) * x[i + j];
  }
  double s = 0;
  for (std::int64_t j = 0; j < kLanes; ++j) s += lane[j];
  for (std::int64_t i = body; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void require_grad(const char* op, const Tensor& grad) {
  GLM_CHECK(grad.device().is_cpu() && grad.dtype() == DType::f32 && grad.is_contiguous(),
            "{}: gradient must be a contiguous f32 CPU tensor, got {}", op, grad.describe());
}

}  // namespace

double local_sum_squares(const Tensor& grad, modeldef::ElementRange range) {
  GLM_CHECK(range.begin >= 0 && range.begin <= range.end && range.end <= grad.numel(),
            "local_sum_squares: range [{}, {}) outside the gradient's {} elements", range.begin,
            range.end, grad.numel());
  if (grad.device().is_cuda())  // the device's fixed-order fp64 reduction (one read-back)
    return kernels::sum_squares(grad.view({grad.numel()}).slice(0, range.begin, range.end));
  require_grad("local_sum_squares", grad);
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
  return local_sum_squares(grad, modeldef::ElementRange{0, grad.numel()});
}

double clip_coefficient(double total_norm, double max_norm) {
  if (max_norm <= 0 || !std::isfinite(total_norm)) return 1.0;
  return std::min(1.0, max_norm / (total_norm + kClipEps));
}

double primary_sum_squares(const modeldef::ParamLayout& layout, const Tensor& values,
                           modeldef::ElementRange range) {
  double s = 0;
  for (const auto& spec : layout.specs()) {
    if (!spec.primary) continue;
    const std::int64_t lo = std::max(spec.offset, range.begin);
    const std::int64_t hi = std::min(spec.offset + spec.numel(), range.end);
    if (lo < hi) s += local_sum_squares(values, {lo - range.begin, hi - range.begin});
  }
  return s;
}

}  // namespace glm::optim
