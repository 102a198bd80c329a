// The linear ops' entries: checked once here, then run by kernels/cpu/linear.cpp (the fp32
// gemm, or gemm16 for 16-bit activations where the CPU multiplies 16-bit natively) and
// bias.cpp, or on CUDA by kernels/cuda/cuda_linear.cpp (cuBLAS for fp32, cuBLASLt on the
// stored f16 / bf16 tensors) and the bias kernel.
#include "kernels/linear.h"

#include <algorithm>

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_linear.h"
#include "kernels/cuda/sharded_ce_launch.h"
#endif

namespace glm::kernels {
namespace {

bool is_f32_or(const Tensor* t, DType type) {
  return t == nullptr || t->raw() == nullptr || t->dtype() == DType::f32 || t->dtype() == type;
}

// The 16-bit GEMM path: activations x stored in a 16-bit type, the other tensors f32 or that
// type, on a CUDA device (cuBLASLt takes f16 and bf16) or on a CPU whose GEMM runs that type
// natively (kernels/gemm.h). Otherwise a 16-bit argument goes through Wide (fp32 copies,
// the fp32 GEMM).
bool runs_16bit(const Tensor& x, std::initializer_list<const Tensor*> others) {
  if (!is_16bit(x)) return false;
  if (x.device().is_cpu() && gemm16_path(x.dtype()) != Gemm16Path::native) return false;
  for (const Tensor* t : others)
    if (!is_f32_or(t, x.dtype())) return false;
  return true;
}


}  // namespace

void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                    MatmulInputs inputs) {
  if (runs_16bit(x, {&y, &W, b})) {
    constexpr const char* op = "linear_forward";
    op_device(op, {{"y", y}, {"x", x}, {"W", W}, {"b", b}});
    const LinearDims d = require_linear_shapes(op, y, x, W);
    if (b) {
      require_float_storage(op, "b", *b);
      require_shape(op, "b", *b, {d.out});
    }
#ifdef GLM_WITH_CUDA
    if (x.device().is_cuda()) return cuda::linear_forward_16bit(y, x, W, b);
#endif
    return cpu::linear_forward_16bit(y, x, W, b);
  }
  if (any_16bit({&y, &x, &W, b})) {
    Wide Y(y, Wide::out), X(x), WW(W), Bb(b);
    linear_forward(*Y, *X, *WW, Bb.get(), inputs);
    return Y.store();
  }
  constexpr const char* op = "linear_forward";
  [[maybe_unused]] const Device dev = op_device(op, {{"y", y}, {"x", x}, {"W", W}, {"b", b}});
  const LinearDims d = require_linear(op, y, x, W, DType::f32, DType::f32);
  if (b) {
    require_f32(op, "b", *b);
    require_shape(op, "b", *b, {d.out});
  }
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::linear_forward(y, x, W, b, inputs);
#endif
  cpu::linear_forward(y, x, W, b, inputs);
}

void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx, MatmulInputs inputs) {
  if (runs_16bit(x, {dx, &dW, db, &dy, &W})) {
    constexpr const char* op = "linear_backward";
    op_device(op, {{"dx", dx}, {"dW", dW}, {"db", db}, {"dy", dy}, {"x", x}, {"W", W}});
    const LinearDims d = require_linear_shapes(op, dy, x, W);
    require_contiguous(op, "dW", dW);
    require_shape(op, "dW", dW, W.shape());
    if (dx) {
      require_contiguous(op, "dx", *dx);
      require_shape(op, "dx", *dx, x.shape());
    }
    if (db) {
      require_float_storage(op, "db", *db);
      require_shape(op, "db", *db, {d.out});
    }
#ifdef GLM_WITH_CUDA
    if (x.device().is_cuda())
      return cuda::linear_backward_16bit(dx, dW, db, dy, x, W, accumulate_dx);
#endif
    return cpu::linear_backward_16bit(dx, dW, db, dy, x, W, accumulate_dx);
  }
  if (any_16bit({dx, &dW, db, &dy, &x, &W})) {
    Wide DX(dx, accumulate_dx ? Wide::inout : Wide::out), DW(dW, Wide::inout),
        DB(db, Wide::inout), DY(dy), X(x), WW(W);
    linear_backward(DX.get(), *DW, DB.get(), *DY, *X, *WW, accumulate_dx, inputs);
    if (dx) DX.store();
    if (db) DB.store();
    return DW.store();
  }
  constexpr const char* op = "linear_backward";
  [[maybe_unused]] const Device dev =
      op_device(op, {{"dx", dx}, {"dW", dW}, {"db", db}, {"dy", dy}, {"x", x}, {"W", W}});
  const LinearDims d = require_linear(op, dy, x, W, DType::f32, DType::f32);
  require_f32(op, "dW", dW);
  require_shape(op, "dW", dW, W.shape());
  if (dx) {
    require_f32(op, "dx", *dx);
    require_shape(op, "dx", *dx, x.shape());
  }
  if (db) {
    require_f32(op, "db", *db);
    require_shape(op, "db", *db, {d.out});
  }
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::linear_backward(dx, dW, db, dy, x, W, accumulate_dx, inputs);
#endif
  cpu::linear_backward(dx, dW, db, dy, x, W, accumulate_dx, inputs);
}

void add_bias(Tensor& y, const Tensor& b) {
  if (any_16bit({&y, &b})) {
    Wide Y(y, Wide::inout), Bb(b);
    add_bias(*Y, *Bb);
    return Y.store();
  }
  constexpr const char* op = "add_bias";
  [[maybe_unused]] const Device dev = op_device(op, {{"y", y}, {"b", b}});
  require_f32(op, "y", y);
  require_f32(op, "b", b);
  const std::int64_t n = b.numel(), R = y.numel() / std::max<std::int64_t>(n, 1);
  GLM_CHECK(R * n == y.numel(), "{}: y {} is not rows of b {}", op, y.describe(), b.describe());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_add_bias(y.data<float>(), b.data<float>(), R, n, cuda::current_stream()), op);
#endif
  cpu::add_bias(y, b);
}

}  // namespace glm::kernels
