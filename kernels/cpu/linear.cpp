// Linear layer on CPU: the products go to gemm (oneDNN by default); the bias work is a
// row-parallel fill (forward) and a column-blocked sum (backward).
#include "kernels/linear.h"

#include <omp.h>

#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/gemm.h"

namespace glm::kernels::cpu {

namespace {

// Fast path: a row is a contiguous copy the compiler turns into vector moves.
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void fill_row(float* y,
                                                                               const float* b,
                                                                               std::int64_t n) {
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) y[j] = b[j];
}

// db[j] += sum_r dy[r, j] for the columns [j0, j1): rows in a fixed order (deterministic),
// the inner loop runs along a contiguous row segment (vectorised, fp64 partial sums).
constexpr std::int64_t kColBlock = 256;
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void column_sums(
    float* db, const float* dy, std::int64_t R, std::int64_t n, std::int64_t j0, std::int64_t j1) {
  double acc[kColBlock] = {};
  const std::int64_t w = j1 - j0;
  for (std::int64_t r = 0; r < R; ++r) {
    const float* row = dy + r * n + j0;
#pragma omp simd
    for (std::int64_t j = 0; j < w; ++j) acc[j] += row[j];
  }
  for (std::int64_t j = 0; j < w; ++j) db[j0 + j] += static_cast<float>(acc[j]);
}

}  // namespace

// (inputs: the CPU multiplies in fp32 either way; f16 operands are exact fp32 values.)
void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                    [[maybe_unused]] MatmulInputs inputs) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  float* Y = y.data<float>();
  if (b) {
    const float* B = b->data<float>();
#pragma omp parallel for schedule(static) if (R * out >= kParallelMin)
    for (std::int64_t r = 0; r < R; ++r) fill_row(Y + r * out, B, out);
  }
  // y [R, out] = x [R, in] W^T  (+ y holding the bias)
  GemmArgs g;
  g.trans_a = Trans::N;
  g.trans_b = Trans::T;
  g.M = R;
  g.N = out;
  g.K = in;
  g.alpha = 1.f;
  g.beta = b ? 1.f : 0.f;
  g.A = x.data<float>();
  g.lda = in;
  g.B = W.data<float>();
  g.ldb = in;
  g.C = Y;
  g.ldc = out;
  gemm(g);
}

void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx, [[maybe_unused]] MatmulInputs inputs) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  if (dx) {
    // dx [R, in] (=/+=) dy [R, out] W [out, in]
    GemmArgs g;
    g.M = R;
    g.N = in;
    g.K = out;
    g.beta = accumulate_dx ? 1.f : 0.f;
    g.A = dy.data<float>();
    g.lda = out;
    g.B = W.data<float>();
    g.ldb = in;
    g.C = dx->data<float>();
    g.ldc = in;
    gemm(g);
  }
  {
    // dW [out, in] += dy^T [out, R] x [R, in]
    GemmArgs g;
    g.trans_a = Trans::T;
    g.M = out;
    g.N = in;
    g.K = R;
    g.beta = 1.f;
    g.A = dy.data<float>();
    g.lda = out;
    g.B = x.data<float>();
    g.ldb = in;
    g.C = dW.data<float>();
    g.ldc = in;
    gemm(g);
  }
  if (db) {
    const float* DY = dy.data<float>();
    float* DB = db->data<float>();
    const std::int64_t blocks = (out + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) if (R * out >= kParallelMin)
    for (std::int64_t blk = 0; blk < blocks; ++blk)
      column_sums(DB, DY, R, out, blk * kColBlock, std::min(out, (blk + 1) * kColBlock));
  }
}

}  // namespace glm::kernels::cpu
