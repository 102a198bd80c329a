#include "kernels/cuda/cuda_linear.h"

#include <algorithm>

#include "kernels/convert.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/layernorm_launch.h"

namespace glm::kernels::cuda {
namespace {

// t itself when it is stored as `type`, else a copy converted to it (an fp32 weight or output
// gradient passed beside 16-bit activations; the model's own tensors never need one).
Tensor as_type(const Tensor& t, DType type) {
  if (t.dtype() == type) return t;
  Tensor c = Tensor::empty(t.shape(), type, t.device());
  convert(c, t);
  return c;
}

// db [n] += the column sums of dy [R, n] (any float storage), summed in fp32 in a fixed
// order; a 16-bit db is accumulated through an fp32 copy.
void add_column_sums(Tensor& db, const Tensor& dy, std::int64_t R, std::int64_t n) {
  Tensor acc = as_type(db, DType::f32);
  Tensor partials =
      Tensor::empty({row_chunks(R) * std::max<std::int64_t>(n, 1)}, DType::f32, dy.device());
  check_launch(launch_column_sums(acc.data<float>(), partials.data<float>(), float_in(dy), R, n,
                                  current_stream()),
               "linear_backward db");
  if (acc.raw() != db.raw()) convert(db, acc);
}

// C = op(A) op(B) + beta C of `shape` through cuBLASLt (fp32 accumulation): A and B of one
// type (f16, bf16), C and the optional bias epilogue f32 or that type (their dtypes say
// which).
void lt_gemm(const GemmShape& shape, const Tensor& A, const Tensor& B, float beta, Tensor& C,
             const Tensor* bias) {
  if (shape.M == 0 || shape.N == 0 || (shape.K == 0 && beta == 1.f)) return;  // nothing to do
  LtGemmArgs g = shape.args<LtGemmArgs>();
  g.beta = beta;
  g.ab_type = A.dtype();
  g.c_type = C.dtype();
  g.A = A.raw();
  g.B = B.raw();
  g.C = C.raw();
  g.bias = bias ? bias->raw() : nullptr;
  gemm_lt(g);
}

}  // namespace

void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  constexpr const char* op = "linear_forward";
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  if (b) {
    check_launch(launch_fill_rows(y.data<float>(), b->data<float>(), R, out, current_stream()), op);
  }
  // y [R, out] = x [R, in] W^T (+ y holding the bias)
  gemm_f32(linear_forward_shape(R, out, in).f32_args(x.data<float>(), W.data<float>(),
                                                     y.data<float>(), 1.f, b ? 1.f : 0.f));
}

void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  const float* DY = dy.data<float>();
  if (dx)  // dx [R, in] (=/+=) dy [R, out] W [out, in]
    gemm_f32(linear_dx_shape(R, out, in).f32_args(DY, W.data<float>(), dx->data<float>(), 1.f,
                                                  accumulate_dx ? 1.f : 0.f));
  // dW [out, in] += dy^T x
  gemm_f32(linear_dw_shape(R, out, in).f32_args(DY, x.data<float>(), dW.data<float>(), 1.f, 1.f));
  if (db) add_column_sums(*db, dy, R, out);
}

void linear_forward_16bit(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  const Tensor bias = b ? as_type(*b, y.dtype()) : Tensor{};
  // y [R, out] = x [R, in] W^T + b (the bias in the epilogue, of y's type)
  lt_gemm(linear_forward_shape(R, out, in), x, as_type(W, x.dtype()), 0.f, y,
          b ? &bias : nullptr);
}

void linear_backward_16bit(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                           const Tensor& W, bool accumulate_dx) {
  const std::int64_t out = W.size(0), in = W.size(1), R = rows_of(x);
  const Tensor d = as_type(dy, x.dtype());
  // dx [R, in] (=/+=) dy [R, out] W [out, in]
  if (dx)
    lt_gemm(linear_dx_shape(R, out, in), d, as_type(W, x.dtype()), accumulate_dx ? 1.f : 0.f,
            *dx, nullptr);
  // dW [out, in] += dy^T [out, R] x [R, in]
  if (R > 0) lt_gemm(linear_dw_shape(R, out, in), d, x, 1.f, dW, nullptr);
  if (db) add_column_sums(*db, dy, R, out);
}

}  // namespace glm::kernels::cuda
