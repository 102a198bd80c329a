// The RoPE ops' entries: checked once here, then run by kernels/cpu/rope.cpp or
// kernels/cuda/rope_kernels.cu (both read and write 16-bit qkv natively).
#include "kernels/rope.h"

#include "kernels/check.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/pointwise_launch.h"
#endif

namespace glm::kernels {
namespace {

// sign +1 rotates (forward), -1 applies the inverse rotation (backward).
void rope_apply(const char* op, Tensor& qkv, const Tensor& positions, float base, float sign) {
  [[maybe_unused]] const Device dev = op_device(op, {{"qkv", qkv}, {"positions", positions}});
  require_float_storage(op, "qkv", qkv);
  require_i32(op, "positions", positions);
  GLM_CHECK(qkv.dim() == 4 && qkv.size(2) == 3, "{}: qkv must be [R, a, 3, d], got {}", op,
            shape_str(qkv.shape()));
  const std::int64_t R = qkv.size(0), d = qkv.size(3);
  GLM_CHECK(d % 2 == 0, "{}: head dim {} must be even", op, d);
  require_shape(op, "positions", positions, {R});
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_rope(cuda::float_out(qkv), positions.data<std::int32_t>(), R, qkv.size(1),
                          d, base, sign, cuda::current_stream()),
        op);
#endif
  cpu::rope_apply(qkv, positions, base, sign);
}

}  // namespace

void rope_forward(Tensor& qkv, const Tensor& positions, float base) {
  rope_apply("rope_forward", qkv, positions, base, 1.f);
}

void rope_backward(Tensor& dqkv, const Tensor& positions, float base) {
  rope_apply("rope_backward", dqkv, positions, base, -1.f);
}

}  // namespace glm::kernels
