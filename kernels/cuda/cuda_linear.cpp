#include "kernels/cuda/cuda_linear.h"

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/layernorm_launch.h"

namespace glm::kernels::cuda {
namespace {

struct LinearDims {
  std::int64_t R, out, in;
};

LinearDims check_linear(const char* op, const Tensor& y_or_dy, const Tensor& x, const Tensor& W,
                        DType act, DType weight) {
  require_tensor(op, "x", x, act);
  require_tensor(op, "W", W, weight);
  require_tensor(op, "y", y_or_dy, act);
  GLM_CHECK(W.dim() == 2, "{}: W must be [out, in], got {}", op, shape_str(W.shape()));
  const std::int64_t out = W.size(0), in = W.size(1);
  GLM_CHECK(x.dim() >= 1 && x.size(-1) == in, "{}: x {} does not match W {}", op,
            shape_str(x.shape()), shape_str(W.shape()));
  const std::int64_t R = rows_of(x);
  GLM_CHECK(y_or_dy.dim() >= 1 && y_or_dy.size(-1) == out && rows_of(y_or_dy) == R,
            "{}: y {} does not match x {} and W {}", op, shape_str(y_or_dy.shape()),
            shape_str(x.shape()), shape_str(W.shape()));
  return {R, out, in};
}

}  // namespace

void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  constexpr const char* op = "cuda::linear_forward";
  const auto [R, out, in] = check_linear(op, y, x, W, DType::f32, DType::f32);
  if (b) {
    require_f32(op, "b", *b);
    require_shape(op, "b", *b, {out});
    check_launch(launch_fill_rows(y.data<float>(), b->data<float>(), R, out, current_stream()), op);
  }
  // y [R, out] = x [R, in] W^T (+ y holding the bias)
  GemmArgs g;
  g.trans_b = Trans::T;
  g.M = R;
  g.N = out;
  g.K = in;
  g.beta = b ? 1.f : 0.f;
  g.A = x.data<float>();
  g.lda = in;
  g.B = W.data<float>();
  g.ldb = in;
  g.C = y.data<float>();
  g.ldc = out;
  gemm_f32(g);
}

void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx) {
  constexpr const char* op = "cuda::linear_backward";
  const auto [R, out, in] = check_linear(op, dy, x, W, DType::f32, DType::f32);
  require_f32(op, "dW", dW);
  require_shape(op, "dW", dW, W.shape());
  if (dx) {
    require_f32(op, "dx", *dx);
    require_shape(op, "dx", *dx, x.shape());
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
    gemm_f32(g);
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
    gemm_f32(g);
  }
  if (db) {
    require_f32(op, "db", *db);
    require_shape(op, "db", *db, {out});
    Tensor partials =
        Tensor::empty({row_chunks(R) * std::max<std::int64_t>(out, 1)}, DType::f32, dy.device());
    check_launch(launch_column_sums(db->data<float>(), partials.data<float>(), dy.data<float>(), R,
                                    out, current_stream()),
                 op);
  }
}

void linear_forward_f16(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  constexpr const char* op = "cuda::linear_forward_f16";
  const auto [R, out, in] = check_linear(op, y, x, W, DType::f16, DType::f16);
  if (b) {
    require_tensor(op, "b", *b, DType::f16);
    require_shape(op, "b", *b, {out});
  }
  LtGemmArgs g;
  g.trans_b = Trans::T;
  g.M = R;
  g.N = out;
  g.K = in;
  g.ab_type = DType::f16;
  g.c_type = DType::f16;
  g.A = x.raw();
  g.lda = in;
  g.B = W.raw();
  g.ldb = in;
  g.C = y.raw();
  g.ldc = out;
  g.bias = b ? b->raw() : nullptr;
  gemm_lt(g);
}

void linear_backward_f16(Tensor* dx, Tensor& dW_f32, const Tensor& dy, const Tensor& x,
                         const Tensor& W) {
  constexpr const char* op = "cuda::linear_backward_f16";
  const auto [R, out, in] = check_linear(op, dy, x, W, DType::f16, DType::f16);
  require_f32(op, "dW", dW_f32);
  require_shape(op, "dW", dW_f32, W.shape());
  if (dx) {
    require_tensor(op, "dx", *dx, DType::f16);
    require_shape(op, "dx", *dx, x.shape());
    LtGemmArgs g;
    g.M = R;
    g.N = in;
    g.K = out;
    g.A = dy.raw();
    g.lda = out;
    g.B = W.raw();
    g.ldb = in;
    g.C = dx->raw();
    g.ldc = in;
    gemm_lt(g);
  }
  LtGemmArgs g;
  g.trans_a = Trans::T;
  g.M = out;
  g.N = in;
  g.K = R;
  g.beta = 1.f;
  g.c_type = DType::f32;
  g.A = dy.raw();
  g.lda = out;
  g.B = x.raw();
  g.ldb = in;
  g.C = dW_f32.raw();
  g.ldc = in;
  if (R > 0) gemm_lt(g);
}

}  // namespace glm::kernels::cuda
