// Tensor-level API of the CUDA weight-only GEMV/GEMM (quant_gemm.h): argument checks (all
// before any CUDA call), the launch plan, then the raw-pointer launchers of
// quant_gemm_kernels.cu.
#include "kernels/cuda/quant_gemm.h"

#include <cuda_runtime_api.h>

#include <array>
#include <climits>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "core/error.h"
#include "kernels/cuda/quant_gemm_launch.h"

namespace glm::kernels::cuda {
namespace {

void check_cuda(cudaError_t e, std::string_view what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {}: {}", what, cudaGetErrorString(e)));
}

void require(std::string_view op, std::string_view name, const Tensor& t, DType dtype,
             const Shape& shape, Device dev) {
  GLM_CHECK(t.device().is_cuda(), "{}: {} must be on a CUDA device, got {}", op, name,
            t.describe());
  GLM_CHECK(t.device() == dev, "{}: {} is on {}, the other tensors on cuda:{}", op, name,
            t.describe(), dev.index);
  GLM_CHECK(t.dtype() == dtype, "{}: {} is {}, expected {}", op, name, t.describe(),
            dtype_name(dtype));
  GLM_CHECK(t.is_contiguous(), "{}: {} must be contiguous", op, name);
  GLM_CHECK(t.shape() == shape, "{}: {} has shape {}, expected {}", op, name,
            shape_str(t.shape()), shape_str(shape));
}

void require_int_range(std::string_view op, std::int64_t v, std::string_view what) {
  GLM_CHECK(v >= 0 && v <= INT_MAX, "{}: {} = {} is outside the kernels' int range", op, what, v);
}

bool aligned16(const Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.raw()) % 16 == 0; }

// x [n, in] f16 and y [n, out] f32/f16 (and b f16 [out]) on x's device; returns n.
std::int64_t check_activations(std::string_view op, Tensor& y, const Tensor& x, const Tensor* b,
                               std::int64_t out, std::int64_t in) {
  GLM_CHECK(x.device().is_cuda(), "{}: x must be on a CUDA device, got {}", op, x.describe());
  GLM_CHECK(x.dim() == 2, "{}: x must be [n, in], got {}", op, x.describe());
  const std::int64_t n = x.size(0);
  require(op, "x", x, DType::f16, {n, in}, x.device());
  GLM_CHECK(y.dtype() == DType::f32 || y.dtype() == DType::f16, "{}: y must be f32 or f16, got {}",
            op, y.describe());
  require(op, "y", y, y.dtype(), {n, out}, x.device());
  if (b) require(op, "b", *b, DType::f16, {out}, x.device());
  require_int_range(op, n, "n");
  require_int_range(op, out, "out");
  require_int_range(op, in, "in");
  return n;
}

DeviceLimits device_limits(int index) {
  static std::mutex mu;
  static std::array<DeviceLimits, 64> cache{};
  static std::array<bool, 64> known{};
  GLM_CHECK(index >= 0 && index < 64, "CUDA device index {} out of range", index);
  std::lock_guard lock(mu);
  if (!known[index]) {
    DeviceLimits d;
    check_cuda(cudaDeviceGetAttribute(&d.sm_count, cudaDevAttrMultiProcessorCount, index),
               "multiprocessor count");
    check_cuda(cudaDeviceGetAttribute(&d.smem_per_block_optin,
                                      cudaDevAttrMaxSharedMemoryPerBlockOptin, index),
               "shared memory per block");
    check_cuda(cudaDeviceGetAttribute(&d.smem_per_sm,
                                      cudaDevAttrMaxSharedMemoryPerMultiprocessor, index),
               "shared memory per multiprocessor");
    cache[index] = d;
    known[index] = true;
  }
  return cache[index];
}

void run(QuantGemmArgs a, const Tensor& x, const Tensor& w, void* stream, std::string_view op) {
  QuantGemmShape shape{a.n, a.out, a.in, a.group, a.bits, aligned16(x) && aligned16(w)};
  const QuantGemmPlan plan = quant_gemm_plan(shape, x.device().index);
  check_cuda(launch_quant_gemm(a, plan, static_cast<cudaStream_t>(stream)), op);
}

}  // namespace

QuantGemmPlan quant_gemm_plan(const QuantGemmShape& shape, int device_index) {
  return plan_quant_gemm(shape, device_limits(device_index));
}

void quant_linear_forward(Tensor& y, const Tensor& x, const QuantWeight& W, const Tensor* b,
                          void* stream) {
  constexpr std::string_view op = "cuda::quant_linear_forward";
  GLM_CHECK(W.bits == 4 || W.bits == 8, "{}: weight bits {} is not 4 or 8", op, W.bits);
  GLM_CHECK(W.in > 0 && W.out >= 0, "{}: weight shape [{}, {}]", op, W.out, W.in);
  GLM_CHECK(W.group > 0 && W.in % W.group == 0 && (W.bits == 8 || W.group % 2 == 0),
            "{}: group size {} does not fit in = {} for int{}", op, W.group, W.in, W.bits);
  const std::int64_t n = check_activations(op, y, x, b, W.out, W.in);
  if (W.bits == 8)
    require(op, "W.q", W.q, DType::i8, {W.out, W.in}, x.device());
  else
    require(op, "W.q", W.q, DType::u8, {W.out, W.in / 2}, x.device());
  require(op, "W.scales", W.scales, DType::f16, {W.out, W.in / W.group}, x.device());

  QuantGemmArgs a;
  a.y = y.raw();
  a.y_f16 = y.dtype() == DType::f16;
  a.x = x.data<std::uint16_t>();
  a.w = static_cast<const std::uint8_t*>(W.q.raw());
  a.scales = W.scales.data<std::uint16_t>();
  a.bias = b ? b->data<std::uint16_t>() : nullptr;
  a.n = static_cast<int>(n);
  a.out = static_cast<int>(W.out);
  a.in = static_cast<int>(W.in);
  a.group = static_cast<int>(W.group);
  a.bits = W.bits;
  run(a, x, W.q, stream, op);
}

void f16_linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                        void* stream) {
  constexpr std::string_view op = "cuda::f16_linear_forward";
  GLM_CHECK(W.dim() == 2, "{}: W must be [out, in], got {}", op, W.describe());
  const std::int64_t out = W.size(0), in = W.size(1);
  GLM_CHECK(in > 0, "{}: W has no columns", op);
  const std::int64_t n = check_activations(op, y, x, b, out, in);
  require(op, "W", W, DType::f16, {out, in}, x.device());

  QuantGemmArgs a;
  a.y = y.raw();
  a.y_f16 = y.dtype() == DType::f16;
  a.x = x.data<std::uint16_t>();
  a.w = static_cast<const std::uint8_t*>(W.raw());
  a.bias = b ? b->data<std::uint16_t>() : nullptr;
  a.n = static_cast<int>(n);
  a.out = static_cast<int>(out);
  a.in = static_cast<int>(in);
  a.group = static_cast<int>(in);
  a.bits = 16;
  run(a, x, W, stream, op);
}

void quantize_weight(QuantWeight& Q, const Tensor& W, void* stream) {
  constexpr std::string_view op = "cuda::quantize_weight";
  GLM_CHECK(Q.bits == 4 || Q.bits == 8, "{}: bits {} is not 4 or 8", op, Q.bits);
  GLM_CHECK(W.device().is_cuda(), "{}: W must be on a CUDA device, got {}", op, W.describe());
  GLM_CHECK(W.dtype() == DType::f32 || W.dtype() == DType::f16, "{}: W must be f32 or f16, got {}",
            op, W.describe());
  require(op, "W", W, W.dtype(), {Q.out, Q.in}, W.device());
  GLM_CHECK(Q.in > 0 && Q.group > 0 && Q.in % Q.group == 0 && (Q.bits == 8 || Q.group % 2 == 0),
            "{}: group size {} does not fit in = {} for int{}", op, Q.group, Q.in, Q.bits);
  if (Q.bits == 8)
    require(op, "Q.q", Q.q, DType::i8, {Q.out, Q.in}, W.device());
  else
    require(op, "Q.q", Q.q, DType::u8, {Q.out, Q.in / 2}, W.device());
  require(op, "Q.scales", Q.scales, DType::f16, {Q.out, Q.in / Q.group}, W.device());
  require_int_range(op, Q.out, "out");
  require_int_range(op, Q.in, "in");
  check_cuda(launch_quantize_weight(static_cast<std::uint8_t*>(Q.q.raw()),
                                    Q.scales.data<std::uint16_t>(), W.raw(),
                                    W.dtype() == DType::f16, static_cast<int>(Q.out),
                                    static_cast<int>(Q.in), static_cast<int>(Q.group), Q.bits,
                                    static_cast<cudaStream_t>(stream)),
             op);
}

}  // namespace glm::kernels::cuda
