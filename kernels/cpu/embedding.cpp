// Token embedding on CPU (math in kernels/embedding.h).
//
// Forward: rows are independent copies, split over threads. Backward: several rows may
// carry the same token, so threads split the hidden columns instead of the rows; every
// thread walks all rows in order for its column range. No two threads touch the same
// dtable element and the summation order is fixed, so the result is bit-identical for any
// thread count (no atomics). A 16-bit x, dx or table is read and written natively a row (or
// a thread's column range of a row) at a time through fp32 buffers (kernels/cpu/row16.h);
// the gradient table arrives as fp32 (kernels/embedding.cpp).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/axpy.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {

void embedding_forward(Tensor& x, const Tensor& tokens, const Tensor& table,
                       std::int64_t vocab_start, std::int64_t vocab_total) {
  const std::int64_t V = table.size(0), h = table.size(1), R = tokens.numel();
  const std::int32_t* tok = tokens.data<std::int32_t>();
  for (std::int64_t r = 0; r < R; ++r)
    if (tok[r] < 0 || tok[r] >= vocab_total)
      throw InputError(
          fmt::format("embedding: token {} at row {} is outside the vocabulary [0, {})", tok[r], r,
                      vocab_total));
#pragma omp parallel if (R * h >= kParallelMin)
  {
    std::vector<float> buf(static_cast<std::size_t>(2 * h));  // 16-bit table and x rows
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      const std::int64_t local = tok[r] - vocab_start;
      float* xr = out_row(x, r, h, buf.data() + h);
      if (local >= 0 && local < V) {
        std::copy_n(in_row(table, local, h, buf.data()), h, xr);
      } else {
        std::fill(xr, xr + h, 0.f);  // another vocab shard holds this token
      }
      finish_row(x, r, h, xr);
    }
  }
}

void embedding_backward(Tensor& dtable, const Tensor& dx, const Tensor& tokens, float alpha,
                        std::int64_t vocab_start) {
  const std::int64_t V = dtable.size(0), h = dtable.size(1), R = tokens.numel();
  const std::int32_t* tok = tokens.data<std::int32_t>();
  for (std::int64_t r = 0; r < R; ++r)
    if (tok[r] < 0)
      throw InputError(fmt::format("embedding: token {} at row {} is negative", tok[r], r));
  float* D = dtable.data<float>();
  const bool wide = dx.dtype() == DType::f32;
  // Column blocks of at least 16 floats (one cache line) so threads never share a line.
  constexpr std::int64_t kMinCols = 16;
  const int nt = R * h < kParallelMin
                     ? 1
                     : static_cast<int>(std::max<std::int64_t>(
                           1, std::min<std::int64_t>(omp_get_max_threads(), h / kMinCols)));
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    // Split on 16-column boundaries.
    const std::int64_t lines = (h + kMinCols - 1) / kMinCols;
    const Range lr = thread_range(lines, t, n);
    const std::int64_t c0 = lr.begin * kMinCols, c1 = std::min(h, lr.end * kMinCols);
    std::vector<float> buf(wide ? 0 : static_cast<std::size_t>(std::max<std::int64_t>(c1 - c0, 0)));
    if (c1 > c0) {
      for (std::int64_t r = 0; r < R; ++r) {
        const std::int64_t local = tok[r] - vocab_start;
        if (local < 0 || local >= V) continue;
        const float* src = wide ? dx.data<float>() + r * h + c0 : buf.data();
        if (!wide) load_row(buf.data(), dx.raw(), dx.dtype(), r * h + c0, c1 - c0);
        axpy_span(D + local * h + c0, alpha, src, c1 - c0);
      }
    }
  }
}

}  // namespace glm::kernels::cpu
