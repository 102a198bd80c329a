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
#include "kernels/cuda/float_kind.h"
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

// What every path of an entry checks first: one device, and contiguous float tensors (f32,
// f16 or bf16) of matching shapes. The paths then take them as stored (the 16-bit GEMMs),
// through Wide, or as f32.
Device check_tensors(const char* op, std::initializer_list<Arg> args) {
  const Device dev = op_device(op, args);
  for (const Arg& a : args)
    if (a.t) require_float_storage(op, a.name, *a.t);
  return dev;
}

Device check_forward(const Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  constexpr const char* op = "linear_forward";
  const Device dev = check_tensors(op, {{"y", y}, {"x", x}, {"W", W}, {"b", b}});
  const LinearDims d = require_linear_shapes(op, y, x, W);
  if (b) require_shape(op, "b", *b, {d.out});
  return dev;
}

Device check_backward(const Tensor* dx, const Tensor& dW, const Tensor* db, const Tensor& dy,
                      const Tensor& x, const Tensor& W) {
  constexpr const char* op = "linear_backward";
  const Device dev =
      check_tensors(op, {{"dx", dx}, {"dW", dW}, {"db", db}, {"dy", dy}, {"x", x}, {"W", W}});
  const LinearDims d = require_linear_shapes(op, dy, x, W);
  require_shape(op, "dW", dW, W.shape());
  if (dx) require_shape(op, "dx", *dx, x.shape());
  if (db) require_shape(op, "db", *db, {d.out});
  return dev;
}

}  // namespace

void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b) {
  [[maybe_unused]] const Device dev = check_forward(y, x, W, b);
  if (runs_16bit(x, {&y, &W, b})) {
#ifdef GLM_WITH_CUDA
    if (dev.is_cuda()) return cuda::linear_forward_16bit(y, x, W, b);
#endif
    return cpu::linear_forward_16bit(y, x, W, b);
  }
  if (any_16bit({&y, &x, &W, b})) {
    Wide Y(y, Wide::out), X(x), WW(W), Bb(b);
    linear_forward(*Y, *X, *WW, Bb.get());
    return Y.store();
  }
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::linear_forward(y, x, W, b);
#endif
  cpu::linear_forward(y, x, W, b);
}

void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx) {
  [[maybe_unused]] const Device dev = check_backward(dx, dW, db, dy, x, W);
  if (runs_16bit(x, {dx, &dW, db, &dy, &W})) {
#ifdef GLM_WITH_CUDA
    if (dev.is_cuda()) return cuda::linear_backward_16bit(dx, dW, db, dy, x, W, accumulate_dx);
#endif
    return cpu::linear_backward_16bit(dx, dW, db, dy, x, W, accumulate_dx);
  }
  if (any_16bit({dx, &dW, db, &dy, &x, &W})) {
    Wide DX(dx, accumulate_dx ? Wide::inout : Wide::out), DW(dW, Wide::inout),
        DB(db, Wide::inout), DY(dy), X(x), WW(W);
    linear_backward(DX.get(), *DW, DB.get(), *DY, *X, *WW, accumulate_dx);
    if (dx) DX.store();
    if (db) DB.store();
    return DW.store();
  }
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::linear_backward(dx, dW, db, dy, x, W, accumulate_dx);
#endif
  cpu::linear_backward(dx, dW, db, dy, x, W, accumulate_dx);
}

void add_bias(Tensor& y, const Tensor& b) {
  if (is_16bit(b)) return add_bias(y, *Wide(b));  // [n]: the rows of y are read natively
  constexpr const char* op = "add_bias";
  [[maybe_unused]] const Device dev = op_device(op, {{"y", y}, {"b", b}});
  require_float_storage(op, "y", y);
  require_f32(op, "b", b);
  const std::int64_t n = b.numel(), R = y.numel() / std::max<std::int64_t>(n, 1);
  GLM_CHECK(R * n == y.numel(), "{}: y {} is not rows of b {}", op, y.describe(), b.describe());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_add_bias(cuda::float_out(y), b.data<float>(), R, n, cuda::current_stream()),
        op);
#endif
  cpu::add_bias(y, b);
}

}  // namespace glm::kernels
