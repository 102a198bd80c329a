// Elementwise ops and reductions on CPU (kernels/elementwise.h).
//
// What makes them fast: every op is one pass over memory, split into contiguous per-thread
// chunks, with `omp simd` inner loops compiled per ISA. Reductions keep per-thread partial
// sums combined in thread order (deterministic for a fixed thread count); all_finite tests
// the exponent bits with an OR-reduction instead of branching per element.
#include "kernels/elementwise.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "kernels/cpu/check.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/dispatch.h"  // CUDA tensors go to kernels/cuda
#endif

namespace glm::kernels {
using namespace cpu;

namespace {

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void scaled_add_span(
    float* y, float alpha, const float* a, const float* b, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] = alpha * a[i] + b[i];
}

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void axpy_span(float* y,
                                                                                float alpha,
                                                                                const float* x,
                                                                                std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
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

void check_same(const char* op, const char* name, const Tensor& t, const Tensor& y) {
  require_f32(op, name, t);
  require_shape(op, name, t, y.shape());
}

void check_rows(const char* op, const Tensor& rows_tensor, const Tensor& table,
                const Tensor& index) {
  require_i32(op, "index", index);
  GLM_CHECK(rows_tensor.dim() == 2 && table.dim() == 2 && rows_tensor.size(1) == table.size(1) &&
                rows_tensor.size(0) == index.numel(),
            "{}: rows {} / table {} / index {} do not match", op, shape_str(rows_tensor.shape()),
            shape_str(table.shape()), shape_str(index.shape()));
  const std::int32_t* idx = index.data<std::int32_t>();
  for (std::int64_t r = 0; r < index.numel(); ++r)
    GLM_CHECK(idx[r] >= 0 && idx[r] < table.size(0), "{}: index {} at row {} outside [0, {})", op,
              idx[r], r, table.size(0));
}

}  // namespace

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b) {
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(y, a, b)) return cuda::scaled_add(y, alpha, a, b);
#endif
  constexpr const char* op = "scaled_add";
  require_cpu(op, y, a, b);
  require_f32(op, "y", y);
  check_same(op, "a", a, y);
  check_same(op, "b", b, y);
  float* Y = y.data<float>();
  const float *A = a.data<float>(), *B = b.data<float>();
  parallel_chunks(y.numel(), [&](std::int64_t i0, std::int64_t i1) {
    scaled_add_span(Y + i0, alpha, A + i0, B + i0, i1 - i0);
  });
}

void axpy(Tensor& y, float alpha, const Tensor& x) {
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(y, x)) return cuda::axpy(y, alpha, x);
#endif
  constexpr const char* op = "axpy";
  require_cpu(op, y, x);
  require_f32(op, "y", y);
  check_same(op, "x", x, y);
  float* Y = y.data<float>();
  const float* X = x.data<float>();
  parallel_chunks(y.numel(), [&](std::int64_t i0, std::int64_t i1) {
    axpy_span(Y + i0, alpha, X + i0, i1 - i0);
  });
}

void scale(Tensor& y, float alpha) {
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(y)) return cuda::scale(y, alpha);
#endif
  require_cpu("scale", y);
  require_f32("scale", "y", y);
  float* Y = y.data<float>();
  parallel_chunks(y.numel(),
                  [&](std::int64_t i0, std::int64_t i1) { scale_span(Y + i0, alpha, i1 - i0); });
}

double sum_squares(const Tensor& x) {
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(x)) return cuda::sum_squares(x);
#endif
  require_cpu("sum_squares", x);
  require_f32("sum_squares", "x", x);
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
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(x)) return cuda::all_finite(x);
#endif
  require_cpu("all_finite", x);
  require_f32("all_finite", "x", x);
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
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(out, src, index)) return cuda::gather_rows(out, src, index);
#endif
  constexpr const char* op = "gather_rows";
  require_cpu(op, out, src, index);
  require_f32(op, "out", out);
  require_f32(op, "src", src);
  check_rows(op, out, src, index);
  const std::int64_t R = out.size(0), h = out.size(1);
  float* O = out.data<float>();
  const float* S = src.data<float>();
  const std::int32_t* idx = index.data<std::int32_t>();
#pragma omp parallel for schedule(static) if (R * h >= kParallelMin)
  for (std::int64_t r = 0; r < R; ++r)
    std::memcpy(O + r * h, S + static_cast<std::int64_t>(idx[r]) * h, sizeof(float) * h);
}

// dst[index[r]] += src[r]. Indices may repeat, so threads split the columns (each walks
// all rows in order): deterministic for any thread count, no atomics.
void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index) {
#ifdef GLM_WITH_CUDA
  if (cuda::any_on_cuda(dst, src, index)) return cuda::scatter_add_rows(dst, src, index);
#endif
  constexpr const char* op = "scatter_add_rows";
  require_cpu(op, dst, src, index);
  require_f32(op, "dst", dst);
  require_f32(op, "src", src);
  check_rows(op, src, dst, index);
  const std::int64_t R = src.size(0), h = src.size(1);
  float* D = dst.data<float>();
  const float* S = src.data<float>();
  const std::int32_t* idx = index.data<std::int32_t>();
  constexpr std::int64_t kLine = 16;  // floats per cache line: threads never share one
  const std::int64_t lines = (h + kLine - 1) / kLine;
  const int nt = static_cast<int>(std::max<std::int64_t>(
      1, std::min<std::int64_t>({omp_get_max_threads(), lines, R * h / kParallelMin + 1})));
#pragma omp parallel num_threads(nt)
  {
    const Range lr = thread_range(lines, omp_get_thread_num(), omp_get_num_threads());
    const std::int64_t c0 = lr.begin * kLine, c1 = std::min(h, lr.end * kLine);
    for (std::int64_t r = 0; r < R && c1 > c0; ++r)
      axpy_span(D + static_cast<std::int64_t>(idx[r]) * h + c0, 1.f, S + r * h + c0, c1 - c0);
  }
}

}  // namespace glm::kernels
