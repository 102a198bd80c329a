// The GeGLU ops' entries: checked once here, then run by kernels/cpu/geglu.cpp (fp32 or
// 16-bit storage natively) or kernels/cuda/geglu_kernels.cu (the same).
#include "kernels/geglu.h"

#include "kernels/check.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/pointwise_launch.h"
#endif

namespace glm::kernels {
namespace {

// u [R, 2f] and the activation-shaped g (or dg) [R, f], each f32, f16 or bf16.
void check_shapes(const char* op, const Tensor& g, const Tensor& u) {
  require_float_storage(op, "g", g);
  require_float_storage(op, "u", u);
  GLM_CHECK(u.dim() >= 1 && u.size(-1) % 2 == 0, "{}: u must be [R, 2f], got {}", op,
            shape_str(u.shape()));
  Shape gs = u.shape();
  gs.back() /= 2;
  require_shape(op, "g", g, gs);
}

}  // namespace

void geglu_forward(Tensor& g, const Tensor& u) {
  constexpr const char* op = "geglu_forward";
  [[maybe_unused]] const Device dev = op_device(op, {{"g", g}, {"u", u}});
  check_shapes(op, g, u);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_geglu_forward(cuda::float_out(g), cuda::float_in(u), rows_of(u),
                                   u.size(-1) / 2, cuda::current_stream()),
        op);
#endif
  cpu::geglu_forward(g, u);
}

void geglu_backward(Tensor& du, const Tensor& dg, const Tensor& u) {
  constexpr const char* op = "geglu_backward";
  [[maybe_unused]] const Device dev = op_device(op, {{"du", du}, {"dg", dg}, {"u", u}});
  check_shapes(op, dg, u);
  require_float_storage(op, "du", du);
  require_shape(op, "du", du, u.shape());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_geglu_backward(cuda::float_out(du), cuda::float_in(dg), cuda::float_in(u),
                                    rows_of(u), u.size(-1) / 2, cuda::current_stream()),
        op);
#endif
  cpu::geglu_backward(du, dg, u);
}

}  // namespace glm::kernels
