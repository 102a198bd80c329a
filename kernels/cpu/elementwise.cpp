// Elementwise ops and reductions on CPU (kernels/elementwise.h).
//
// What makes them fast: every op is one pass over memory, split into contiguous per-thread
// chunks, with `omp simd` inner loops compiled per ISA. Reductions keep per-thread partial
// sums combined in thread order (deterministic for a fixed thread count); all_finite tests
// the exponent bits with an OR-reduction instead of branching per element. scaled_add,
// gather_rows and scatter_add_rows read and write 16-bit storage natively
// (kernels/cpu/row16.h): blocks widened into a thread's fp32 buffers, each output rounded
// once.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/cpu/axpy.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {

namespace {

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void scaled_add_span(
    float* y, float alpha, const float* a, const float* b, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] = alpha * a[i] + b[i];
}

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void scale_span(float* y,
                                                                                 float alpha,
                                                                                 std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] *= alpha;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) double sum_squares_span(
    const float* x, std::int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

// Nonzero iff some element has an all-ones exponent (inf or NaN).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) std::uint32_t nonfinite_span(
    const float* x, std::int64_t n) {
  std::uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t e = std::bit_cast<std::uint32_t>(x[i]) & 0x7F800000u;
    bad |= static_cast<std::uint32_t>(e == 0x7F800000u);
  }
  return bad;
}

// Run fn(begin, end) over [0, n) in one contiguous chunk per thread (small n: one thread).
template <class F>
void parallel_chunks(std::int64_t n, F&& fn) {
  if (n < kParallelMin) {
    fn(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const Range r = thread_range(n, omp_get_thread_num(), omp_get_num_threads());
    fn(r.begin, r.end);
  }
}

// Every index names a row of the table (N rows): a bad one is a caller bug.
void check_indices(const char* op, const Tensor& index, std::int64_t N) {
  const std::int32_t* idx = index.data<std::int32_t>();
  for (std::int64_t r = 0; r < index.numel(); ++r)
    GLM_CHECK(idx[r] >= 0 && idx[r] < N, "{}: index {} at row {} outside [0, {})", op, idx[r], r,
              N);
}

}  // namespace

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b) {
  if (y.dtype() == DType::f32 && a.dtype() == DType::f32 && b.dtype() == DType::f32) {
    float* Y = y.data<float>();
    const float *A = a.data<float>(), *B = b.data<float>();
    parallel_chunks(y.numel(), [&](std::int64_t i0, std::int64_t i1) {
      scaled_add_span(Y + i0, alpha, A + i0, B + i0, i1 - i0);
    });
    return;
  }
  // Blocks of kBlock elements: as rows of kBlock, block k is "row" k (the tail is shorter).
  constexpr std::int64_t kBlock = 2048;
  const std::int64_t n = y.numel(), blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel if (n >= kParallelMin)
  {
    std::vector<float> buf(3 * kBlock);
    float *ab = buf.data(), *bb = ab + kBlock, *yb = bb + kBlock;
#pragma omp for schedule(static)
    for (std::int64_t k = 0; k < blocks; ++k) {
      const std::int64_t i = k * kBlock, m = std::min(kBlock, n - i);
      auto in = [&](const Tensor& t, float* tmp) -> const float* {
        if (t.dtype() == DType::f32) return t.data<float>() + i;
        load_row(tmp, t.raw(), t.dtype(), i, m);
        return tmp;
      };
      const float *pa = in(a, ab), *pb = in(b, bb);
      float* py = y.dtype() == DType::f32 ? y.data<float>() + i : yb;
      scaled_add_span(py, alpha, pa, pb, m);
      if (py == yb) store_row(y.raw(), y.dtype(), i, yb, m);
    }
  }
}

void axpy(Tensor& y, float alpha, const Tensor& x) {
  float* Y = y.data<float>();
  const float* X = x.data<float>();
  parallel_chunks(y.numel(), [&](std::int64_t i0, std::int64_t i1) {
    axpy_span(Y + i0, alpha, X + i0, i1 - i0);
  });
}

void scale(Tensor& y, float alpha) {
  float* Y = y.data<float>();
  parallel_chunks(y.numel(),
                  [&](std::int64_t i0, std::int64_t i1) { scale_span(Y + i0, alpha, i1 - i0); });
}

double sum_squares(const Tensor& x) {
  const float* X = x.data<float>();
  const std::int64_t n = x.numel();
  const int nt = n >= kParallelMin ? omp_get_max_threads() : 1;
  std::vector<double> part(nt, 0.0);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const Range r = thread_range(n, t, omp_get_num_threads());
    part[t] = sum_squares_span(X + r.begin, r.end - r.begin);
  }
  double s = 0;
  for (double p : part) s += p;  // thread order: deterministic
  return s;
}

bool all_finite(const Tensor& x) {
  const float* X = x.data<float>();
  std::uint32_t bad = 0;
  const std::int64_t n = x.numel();
  if (n < kParallelMin) return nonfinite_span(X, n) == 0;
#pragma omp parallel reduction(| : bad)
  {
    const Range r = thread_range(n, omp_get_thread_num(), omp_get_num_threads());
    bad |= nonfinite_span(X + r.begin, r.end - r.begin);
  }
  return bad == 0;
}

void gather_rows(Tensor& out, const Tensor& src, const Tensor& index) {
  check_indices("gather_rows", index, src.size(0));
  const std::int64_t R = out.size(0), h = out.size(1);
  const std::int32_t* idx = index.data<std::int32_t>();
  if (out.dtype() == src.dtype()) {  // rows copied as they are (exact in any dtype)
    const std::size_t row = dtype_bytes(out.dtype(), h);
    auto* O = static_cast<std::uint8_t*>(out.raw());
    const auto* S = static_cast<const std::uint8_t*>(src.raw());
#pragma omp parallel for schedule(static) if (R * h >= kParallelMin)
    for (std::int64_t r = 0; r < R; ++r)
      std::memcpy(O + r * row, S + static_cast<std::int64_t>(idx[r]) * row, row);
    return;
  }
#pragma omp parallel if (R * h >= kParallelMin)
  {
    std::vector<float> buf(static_cast<std::size_t>(h));
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < R; ++r)
      store_row(out.raw(), out.dtype(), r * h, in_row(src, idx[r], h, buf.data()), h);
  }
}

// dst[index[r]] += src[r]. Indices may repeat, so threads split the columns (each walks
// all rows in order): deterministic for any thread count, no atomics. With a 16-bit dst or
// src the rows are taken grouped by destination (a stable sort keeps each group's order):
// a destination's columns are widened once, its rows added in fp32 and the sum rounded once,
// the fp32 op on widened tensors bit for bit without an fp32 copy of either.
void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index) {
  check_indices("scatter_add_rows", index, dst.size(0));
  const std::int64_t R = src.size(0), h = src.size(1);
  const std::int32_t* idx = index.data<std::int32_t>();
  const bool f32 = dst.dtype() == DType::f32 && src.dtype() == DType::f32;
  std::vector<std::int64_t> order;
  if (!f32) {
    order.resize(static_cast<std::size_t>(R));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [idx](std::int64_t a, std::int64_t b) { return idx[a] < idx[b]; });
  }
  constexpr std::int64_t kLine = 16;  // fp32 values per cache line: threads never share one
  const std::int64_t lines = (h + kLine - 1) / kLine;
  const int nt = static_cast<int>(std::max<std::int64_t>(
      1, std::min<std::int64_t>({omp_get_max_threads(), lines, R * h / kParallelMin + 1})));
#pragma omp parallel num_threads(nt)
  {
    const Range lr = thread_range(lines, omp_get_thread_num(), omp_get_num_threads());
    const std::int64_t c0 = lr.begin * kLine, n = std::min(h, lr.end * kLine) - c0;
    if (f32) {
      float* D = dst.data<float>();
      const float* S = src.data<float>();
      for (std::int64_t r = 0; r < R && n > 0; ++r)
        axpy_span(D + static_cast<std::int64_t>(idx[r]) * h + c0, 1.f, S + r * h + c0, n);
    } else if (n > 0) {
      std::vector<float> acc(static_cast<std::size_t>(n)), row(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < R;) {
        const std::int64_t d = idx[order[i]];
        load_row(acc.data(), dst.raw(), dst.dtype(), d * h + c0, n);
        for (; i < R && idx[order[i]] == d; ++i) {
          load_row(row.data(), src.raw(), src.dtype(), order[i] * h + c0, n);
          axpy_span(acc.data(), 1.f, row.data(), n);
        }
        store_row(dst.raw(), dst.dtype(), d * h + c0, acc.data(), n);
      }
    }
  }
}

}  // namespace glm::kernels::cpu
