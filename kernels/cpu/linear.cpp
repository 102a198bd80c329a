// Linear layer on CPU: the products go to gemm (oneDNN by default), or, with 16-bit
// activations, to the 16-bit gemm16; the bias work is a row-parallel fill (forward) and a
// column-blocked sum (backward).
#include "kernels/linear.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <vector>

#include "core/half.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"
#include "kernels/gemm.h"

namespace glm::kernels::cpu {

namespace {

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

// The same sums over a 16-bit dy, each element widened in registers (bf16: the top half of
// an fp32, so the loop vectorises).
template <bool kBf16>
void column_sums_16(float* sums, const std::uint16_t* dy, std::int64_t R, std::int64_t n,
                    std::int64_t j0, std::int64_t j1) {
  double acc[kColBlock] = {};
  const std::int64_t w = j1 - j0;
  for (std::int64_t r = 0; r < R; ++r) {
    const std::uint16_t* row = dy + r * n + j0;
    if constexpr (kBf16) {
#pragma omp simd
      for (std::int64_t j = 0; j < w; ++j)
        acc[j] += std::bit_cast<float>(static_cast<std::uint32_t>(row[j]) << 16);
    } else {
      for (std::int64_t j = 0; j < w; ++j) acc[j] += half_to_float(row[j]);
    }
  }
  for (std::int64_t j = 0; j < w; ++j) sums[j0 + j] = static_cast<float>(acc[j]);
}

// db [out] += sum_r dy [r, :], for dy and db each f32, f16 or bf16 (db rounded once).
void add_column_sums(Tensor& db, const Tensor& dy, std::int64_t R, std::int64_t out) {
  const std::int64_t blocks = (out + kColBlock - 1) / kColBlock;
  if (dy.dtype() == DType::f32 && db.dtype() == DType::f32) {
    const float* DY = dy.data<float>();
    float* DB = db.data<float>();
#pragma omp parallel for schedule(static) if (R * out >= kParallelMin)
    for (std::int64_t blk = 0; blk < blocks; ++blk)
      column_sums(DB, DY, R, out, blk * kColBlock, std::min(out, (blk + 1) * kColBlock));
    return;
  }
  std::vector<float> sums(static_cast<std::size_t>(out));
  if (dy.dtype() == DType::f32) {
    const float* DY = dy.data<float>();
#pragma omp parallel for schedule(static) if (R * out >= kParallelMin)
    for (std::int64_t blk = 0; blk < blocks; ++blk)
      column_sums(sums.data(), DY, R, out, blk * kColBlock, std::min(out, (blk + 1) * kColBlock));
  } else {
    const auto* DY = static_cast<const std::uint16_t*>(dy.raw());
    const bool bf16 = dy.dtype() == DType::bf16;
#pragma omp parallel for schedule(static) if (R * out >= kParallelMin)
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
      const std::int64_t j0 = blk * kColBlock, j1 = std::min(out, (blk + 1) * kColBlock);
      if (bf16)
        column_sums_16<true>(sums.data(), DY, R, out, j0, j1);
      else
        column_sums_16<false>(sums.data(), DY, R, out, j0, j1);
    }
  }
  if (db.dtype() == DType::f32) {
    float* DB = db.data<float>();
    for (std::int64_t j = 0; j < out; ++j) DB[j] += sums[j];
  } else {
    auto* DB = static_cast<std::uint16_t*>(db.raw());
    const bool bf16 = db.dtype() == DType::bf16;
    for (std::int64_t j = 0; j < out; ++j)
      DB[j] = float_to_16(float_from_16(DB[j], bf16) + sums[j], bf16);
  }
}

// A matrix operand of the 16-bit GEMM in the type t: the tensor's own storage when it is
// stored so, else a copy rounded to t (to nearest even). In a 16-bit run the fp32 weights
// hold values of t already, so their copy is exact.
class Operand16 {
 public:
  Operand16(const Tensor& x, DType t) {
    if (x.dtype() == t) {
      ptr_ = x.raw();
      return;
    }
    copy_ = Tensor::empty(x.shape(), t);
    convert(copy_, x);
    ptr_ = copy_.raw();
  }
  const void* get() const { return ptr_; }

 private:
  const void* ptr_ = nullptr;
  Tensor copy_;
};

// A bias as fp32 (the GEMM adds it in its fp32 epilogue).
std::vector<float> bias_f32(const Tensor& b) {
  std::vector<float> out(static_cast<std::size_t>(b.numel()));
  load_row(out.data(), b.raw(), b.dtype(), 0, b.numel());
  return out;
}

}  // namespace

void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  float* Y = y.data<float>();
  if (b) {
    const float* B = b->data<float>();
#pragma omp parallel for schedule(static) if (R * out >= kParallelMin)
    for (std::int64_t r = 0; r < R; ++r) std::copy_n(B, out, Y + r * out);
  }
  // y [R, out] = x [R, in] W^T  (+ y holding the bias)
  gemm(linear_forward_shape(R, out, in).f32_args(x.data<float>(), W.data<float>(), Y, 1.f,
                                                 b ? 1.f : 0.f));
}

void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  const float* DY = dy.data<float>();
  if (dx)  // dx [R, in] (=/+=) dy [R, out] W [out, in]
    gemm(linear_dx_shape(R, out, in).f32_args(DY, W.data<float>(), dx->data<float>(), 1.f,
                                              accumulate_dx ? 1.f : 0.f));
  // dW [out, in] += dy^T x
  gemm(linear_dw_shape(R, out, in).f32_args(DY, x.data<float>(), dW.data<float>(), 1.f, 1.f));
  if (db) add_column_sums(*db, dy, R, out);
}

void linear_forward_16bit(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  const DType t = x.dtype();
  const Operand16 w(W, t);
  const std::vector<float> bias = b ? bias_f32(*b) : std::vector<float>{};
  // y [R, out] = x [R, in] W^T + b
  Gemm16Args g = linear_forward_shape(R, out, in).args<Gemm16Args>();
  g.type = t;
  g.A = x.raw();
  g.B = w.get();
  g.c_type = y.dtype();
  g.C = y.raw();
  g.bias = b ? bias.data() : nullptr;
  gemm16(g);
}

void linear_backward_16bit(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                           const Tensor& W, bool accumulate_dx) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  const DType t = x.dtype();
  const Operand16 d(dy, t);
  if (dx) {  // dx [R, in] (=/+=) dy [R, out] W [out, in]
    const Operand16 w(W, t);
    Gemm16Args g = linear_dx_shape(R, out, in).args<Gemm16Args>();
    g.type = t;
    g.A = d.get();
    g.B = w.get();
    g.c_type = dx->dtype();
    g.C = dx->raw();
    g.accumulate = accumulate_dx;
    gemm16(g);
  }
  Gemm16Args g = linear_dw_shape(R, out, in).args<Gemm16Args>();  // dW [out, in] += dy^T x
  g.type = t;
  g.A = d.get();
  g.B = x.raw();
  g.c_type = dW.dtype();
  g.C = dW.raw();
  g.accumulate = true;
  gemm16(g);
  if (db) add_column_sums(*db, dy, R, out);
}

}  // namespace glm::kernels::cpu
