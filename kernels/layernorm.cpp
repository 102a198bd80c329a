// The LayerNorm ops' entries: checked once here, then run by kernels/cpu/layernorm.cpp or
// kernels/cuda/layernorm_kernels.cu. Both read and write 16-bit rows (x, y and the other
// [R, h] tensors) natively; the small [R] and [h] tensors (statistics, gamma, beta and their
// gradients) go through Wide when 16-bit.
#include "kernels/layernorm.h"

#include <algorithm>
#include <utility>

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/launch_config.h"
#include "kernels/cuda/layernorm_launch.h"
#endif

namespace glm::kernels {
namespace {

// The forward's tensors: rows x [R, h] normalised into y (each f32, f16 or bf16), fp32 mean
// and rstd [R], gamma and beta [h].
void check_forward(const char* op, const Tensor& y, const Tensor& mean, const Tensor& rstd,
                   const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  require_float_storage(op, "y", y);
  require_float_storage(op, "x", x);
  require_f32(op, {{"mean", mean}, {"rstd", rstd}, {"gamma", gamma}, {"beta", beta}});
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
  constexpr const char* op = "layernorm_forward";
  [[maybe_unused]] const Device dev = op_device(
      op, {{"y", y}, {"mean", mean}, {"rstd", rstd}, {"x", x}, {"gamma", gamma}, {"beta", beta}});
  if (any_16bit({&mean, &rstd, &gamma, &beta})) {
    Wide M(mean, Wide::out), S(rstd, Wide::out), G(gamma), Bt(beta);
    layernorm_forward(y, *M, *S, x, *G, *Bt, eps);
    M.store();
    return S.store();
  }
  check_forward(op, y, mean, rstd, x, gamma, beta);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_layernorm_forward(cuda::float_out(y), mean.data<float>(), rstd.data<float>(),
                                       cuda::FloatOut{}, cuda::FloatIn{}, 0.f, cuda::float_in(x),
                                       gamma.data<float>(), beta.data<float>(), rows_of(x),
                                       x.size(-1), eps, cuda::current_stream()),
        op);
#endif
  cpu::layernorm_forward(y, mean, rstd, x, gamma, beta, eps);
}

void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& a,
                                const Tensor& f, float alpha, const Tensor& gamma,
                                const Tensor& beta, float eps) {
  constexpr const char* op = "residual_layernorm_forward";
  [[maybe_unused]] const Device dev = op_device(op, {{"s", s},
                                                     {"y", y},
                                                     {"mean", mean},
                                                     {"rstd", rstd},
                                                     {"a", a},
                                                     {"f", f},
                                                     {"gamma", gamma},
                                                     {"beta", beta}});
  if (any_16bit({&mean, &rstd, &gamma, &beta})) {
    Wide M(mean, Wide::out), R(rstd, Wide::out), G(gamma), Bt(beta);
    residual_layernorm_forward(s, y, *M, *R, a, f, alpha, *G, *Bt, eps);
    M.store();
    return R.store();
  }
  check_forward(op, y, mean, rstd, a, gamma, beta);
  require_float_storage(op, "s", s);
  require_float_storage(op, "f", f);
  require_shape(op, "s", s, a.shape());
  require_shape(op, "f", f, a.shape());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_layernorm_forward(cuda::float_out(y), mean.data<float>(), rstd.data<float>(),
                                       cuda::float_out(s), cuda::float_in(a), alpha,
                                       cuda::float_in(f), gamma.data<float>(), beta.data<float>(),
                                       rows_of(a), a.size(-1), eps, cuda::current_stream()),
        op);
#endif
  cpu::residual_layernorm_forward(s, y, mean, rstd, a, f, alpha, gamma, beta, eps);
}

void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma) {
  constexpr const char* op = "layernorm_backward";
  const std::initializer_list<Arg> tensors = {{"dx", dx},     {"dgamma", dgamma}, {"dbeta", dbeta},
                                              {"dy", dy},     {"dres", dres},     {"x", x},
                                              {"mean", mean}, {"rstd", rstd},     {"gamma", gamma}};
  [[maybe_unused]] const Device dev = op_device(op, tensors);
  if (any_16bit({&dgamma, &dbeta, &mean, &rstd, &gamma})) {
    Wide DG(dgamma, Wide::inout), DB(dbeta, Wide::inout), M(mean), S(rstd), G(gamma);
    layernorm_backward(dx, *DG, *DB, dy, dres, alpha_res, x, *M, *S, *G);
    DG.store();
    return DB.store();
  }
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"dx", &dx}, {"dy", &dy},
                                {"dres", dres}, {"x", &x}})
    if (t) require_float_storage(op, name, *t);
  require_f32(op, {{"dgamma", dgamma}, {"dbeta", dbeta}, {"mean", mean}, {"rstd", rstd},
                   {"gamma", gamma}});
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
        cuda::launch_layernorm_backward(cuda::float_out(dx), dgamma.data<float>(),
                                        dbeta.data<float>(), partials.data<float>(),
                                        cuda::float_in(dy), cuda::float_in(dres), alpha_res,
                                        cuda::float_in(x), mean.data<float>(), rstd.data<float>(),
                                        gamma.data<float>(), R, h, cuda::current_stream()),
        op);
  }
#endif
  cpu::layernorm_backward(dx, dgamma, dbeta, dy, dres, alpha_res, x, mean, rstd, gamma);
}

}  // namespace glm::kernels
