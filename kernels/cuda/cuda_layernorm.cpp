#include "kernels/cuda/cuda_layernorm.h"

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/layernorm_launch.h"

namespace glm::kernels::cuda {
namespace {

void check_forward(const char* op, const Tensor& y, const Tensor& mean, const Tensor& rstd,
                   const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  require_f32(op, "y", y);
  require_f32(op, "mean", mean);
  require_f32(op, "rstd", rstd);
  require_f32(op, "x", x);
  require_f32(op, "gamma", gamma);
  require_f32(op, "beta", beta);
  GLM_CHECK(x.dim() >= 1, "{}: x must have a last dimension, got {}", op, shape_str(x.shape()));
  const std::int64_t h = x.size(-1), R = rows_of(x);
  require_shape(op, "y", y, x.shape());
  require_numel(op, "mean", mean, R);
  require_numel(op, "rstd", rstd, R);
  require_shape(op, "gamma", gamma, {h});
  require_shape(op, "beta", beta, {h});
}

}  // namespace

void layernorm_forward(Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& x,
                       const Tensor& gamma, const Tensor& beta, float eps) {
  constexpr const char* op = "cuda::layernorm_forward";
  check_forward(op, y, mean, rstd, x, gamma, beta);
  check_launch(launch_layernorm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                                        nullptr, nullptr, 0.f, x.data<float>(),
                                        gamma.data<float>(), beta.data<float>(), rows_of(x),
                                        x.size(-1), eps, current_stream()),
               op);
}

void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd,
                                const Tensor& a, const Tensor& f, float alpha,
                                const Tensor& gamma, const Tensor& beta, float eps) {
  constexpr const char* op = "cuda::residual_layernorm_forward";
  check_forward(op, y, mean, rstd, a, gamma, beta);
  require_f32(op, "s", s);
  require_f32(op, "f", f);
  require_shape(op, "s", s, a.shape());
  require_shape(op, "f", f, a.shape());
  check_launch(launch_layernorm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                                        s.data<float>(), a.data<float>(), alpha, f.data<float>(),
                                        gamma.data<float>(), beta.data<float>(), rows_of(a),
                                        a.size(-1), eps, current_stream()),
               op);
}

void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x,
                        const Tensor& mean, const Tensor& rstd, const Tensor& gamma) {
  constexpr const char* op = "cuda::layernorm_backward";
  require_f32(op, "dx", dx);
  require_f32(op, "dgamma", dgamma);
  require_f32(op, "dbeta", dbeta);
  require_f32(op, "dy", dy);
  require_f32(op, "x", x);
  require_f32(op, "mean", mean);
  require_f32(op, "rstd", rstd);
  require_f32(op, "gamma", gamma);
  GLM_CHECK(x.dim() >= 1, "{}: x must have a last dimension, got {}", op, shape_str(x.shape()));
  const std::int64_t h = x.size(-1), R = rows_of(x);
  require_shape(op, "dx", dx, x.shape());
  require_shape(op, "dy", dy, x.shape());
  if (dres) {
    require_f32(op, "dres", *dres);
    require_shape(op, "dres", *dres, x.shape());
  }
  require_numel(op, "mean", mean, R);
  require_numel(op, "rstd", rstd, R);
  require_shape(op, "gamma", gamma, {h});
  require_shape(op, "dgamma", dgamma, {h});
  require_shape(op, "dbeta", dbeta, {h});
  Tensor partials = Tensor::empty({row_chunks(R) * 2 * std::max<std::int64_t>(h, 1)}, DType::f32,
                                  x.device());
  check_launch(launch_layernorm_backward(dx.data<float>(), dgamma.data<float>(),
                                         dbeta.data<float>(), partials.data<float>(),
                                         dy.data<float>(), dres ? dres->data<float>() : nullptr,
                                         alpha_res, x.data<float>(), mean.data<float>(),
                                         rstd.data<float>(), gamma.data<float>(), R, h,
                                         current_stream()),
               op);
}

}  // namespace glm::kernels::cuda
