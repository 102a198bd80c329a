// The LayerNorm ops' entries: checked once here, then run by kernels/cpu/layernorm.cpp or
// kernels/cuda/layernorm_kernels.cu.
#include "kernels/layernorm.h"

#include <algorithm>

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/layernorm_launch.h"
#endif

namespace glm::kernels {
namespace {

// The forward's tensors: fp32 rows x [R, h] normalised into y, mean and rstd [R], gamma and
// beta [h].
void check_forward(const char* op, const Tensor& y, const Tensor& mean, const Tensor& rstd,
                   const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  require_f32(
      op, {{"y", y}, {"mean", mean}, {"rstd", rstd}, {"x", x}, {"gamma", gamma}, {"beta", beta}});
  GLM_CHECK(x.dim() >= 1, "{}: x must have a last dimension, got {}", op, shape_str(x.shape()));
  const std::int64_t h = x.size(-1), R = rows_of(x);
  require_shape(op, "y", y, x.shape());
  require_numel(op, "mean", mean, R);
  require_numel(op, "rstd", rstd, R);
  require_shape(op, "gamma", gamma, {h});
  require_shape(op, "beta", beta, {h});
}

}  // namespace

void layernorm_forward(Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& x, const Tensor& gamma,
                       const Tensor& beta, float eps) {
  if (any_16bit({&y, &mean, &rstd, &x, &gamma, &beta})) {
    Wide Y(y, Wide::out), M(mean, Wide::out), S(rstd, Wide::out), X(x), G(gamma), Bt(beta);
    layernorm_forward(*Y, *M, *S, *X, *G, *Bt, eps);
    M.store();
    S.store();
    return Y.store();
  }
  constexpr const char* op = "layernorm_forward";
  [[maybe_unused]] const Device dev = op_device(
      op, {{"y", y}, {"mean", mean}, {"rstd", rstd}, {"x", x}, {"gamma", gamma}, {"beta", beta}});
  check_forward(op, y, mean, rstd, x, gamma, beta);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_layernorm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                                       nullptr, nullptr, 0.f, x.data<float>(), gamma.data<float>(),
                                       beta.data<float>(), rows_of(x), x.size(-1), eps,
                                       cuda::current_stream()),
        op);
#endif
  cpu::layernorm_forward(y, mean, rstd, x, gamma, beta, eps);
}

void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& a,
                                const Tensor& f, float alpha, const Tensor& gamma,
                                const Tensor& beta, float eps) {
  if (any_16bit({&s, &y, &mean, &rstd, &a, &f, &gamma, &beta})) {
    Wide S(s, Wide::out), Y(y, Wide::out), M(mean, Wide::out), R(rstd, Wide::out), A(a), F(f),
        G(gamma), Bt(beta);
    residual_layernorm_forward(*S, *Y, *M, *R, *A, *F, alpha, *G, *Bt, eps);
    M.store();
    R.store();
    S.store();
    return Y.store();
  }
  constexpr const char* op = "residual_layernorm_forward";
  [[maybe_unused]] const Device dev = op_device(op, {{"s", s},
                                                     {"y", y},
                                                     {"mean", mean},
                                                     {"rstd", rstd},
                                                     {"a", a},
                                                     {"f", f},
                                                     {"gamma", gamma},
                                                     {"beta", beta}});
  check_forward(op, y, mean, rstd, a, gamma, beta);
  require_f32(op, {{"s", s}, {"f", f}});
  require_shape(op, "s", s, a.shape());
  require_shape(op, "f", f, a.shape());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_layernorm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                                       s.data<float>(), a.data<float>(), alpha, f.data<float>(),
                                       gamma.data<float>(), beta.data<float>(), rows_of(a),
                                       a.size(-1), eps, cuda::current_stream()),
        op);
#endif
  cpu::residual_layernorm_forward(s, y, mean, rstd, a, f, alpha, gamma, beta, eps);
}

void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma) {
  if (any_16bit({&dx, &dgamma, &dbeta, &dy, dres, &x, &mean, &rstd, &gamma})) {
    Wide DX(dx, Wide::out), DG(dgamma, Wide::inout), DB(dbeta, Wide::inout), DY(dy),
        DR(dres), X(x), M(mean), S(rstd), G(gamma);
    layernorm_backward(*DX, *DG, *DB, *DY, DR.get(), alpha_res, *X, *M, *S, *G);
    DG.store();
    DB.store();
    return DX.store();
  }
  constexpr const char* op = "layernorm_backward";
  const std::initializer_list<Arg> tensors = {{"dx", dx},     {"dgamma", dgamma}, {"dbeta", dbeta},
                                              {"dy", dy},     {"dres", dres},     {"x", x},
                                              {"mean", mean}, {"rstd", rstd},     {"gamma", gamma}};
  [[maybe_unused]] const Device dev = op_device(op, tensors);
  require_f32(op, tensors);
  GLM_CHECK(x.dim() >= 1, "{}: x must have a last dimension, got {}", op, shape_str(x.shape()));
  const std::int64_t h = x.size(-1), R = rows_of(x);
  require_shape(op, "dx", dx, x.shape());
  require_shape(op, "dy", dy, x.shape());
  if (dres) require_shape(op, "dres", *dres, x.shape());
  require_numel(op, "mean", mean, R);
  require_numel(op, "rstd", rstd, R);
  require_shape(op, "gamma", gamma, {h});
  require_shape(op, "dgamma", dgamma, {h});
  require_shape(op, "dbeta", dbeta, {h});
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    // Per-chunk partial [dgamma | dbeta] rows, reduced in a fixed order by the launcher.
    Tensor partials =
        Tensor::empty({cuda::row_chunks(R) * 2 * std::max<std::int64_t>(h, 1)}, DType::f32, dev);
    return cuda::check_launch(
        cuda::launch_layernorm_backward(dx.data<float>(), dgamma.data<float>(), dbeta.data<float>(),
                                        partials.data<float>(), dy.data<float>(),
                                        dres ? dres->data<float>() : nullptr, alpha_res,
                                        x.data<float>(), mean.data<float>(), rstd.data<float>(),
                                        gamma.data<float>(), R, h, cuda::current_stream()),
        op);
  }
#endif
  cpu::layernorm_backward(dx, dgamma, dbeta, dy, dres, alpha_res, x, mean, rstd, gamma);
}

}  // namespace glm::kernels
