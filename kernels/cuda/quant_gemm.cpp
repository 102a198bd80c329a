// Tensor-level API of the CUDA weight-only GEMV/GEMM (quant_gemm.h): the launch plan, then
// the raw-pointer launchers of quant_gemm_kernels.cu. The entries in kernels/quant_linear.cpp
// have checked the arguments; here only this backend's int range is.
#include "kernels/cuda/quant_gemm.h"

#include <cuda_runtime_api.h>

#include <array>
#include <climits>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "core/error.h"
#include "kernels/check.h"
#include "kernels/cuda/quant_gemm_launch.h"

namespace glm::kernels::cuda {
namespace {

void check_cuda(cudaError_t e, std::string_view what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {}: {}", what, cudaGetErrorString(e)));
}

void require_int_range(std::string_view op, std::int64_t v, std::string_view what) {
  GLM_CHECK(v >= 0 && v <= INT_MAX, "{}: {} = {} is outside the kernels' int range", op, what, v);
}

bool aligned16(const Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.raw()) % 16 == 0; }

// The kernels index with int: the sizes must fit (a limit of this backend, not a format rule).
void require_int_sizes(std::string_view op, std::int64_t n, std::int64_t out, std::int64_t in) {
  require_int_range(op, n, "n");
  require_int_range(op, out, "out");
  require_int_range(op, in, "in");
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
  const std::int64_t n = x.size(0);
  require_int_sizes(op, n, W.out, W.in);
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
  const std::int64_t n = x.size(0), out = W.size(0), in = W.size(1);
  require_int_sizes(op, n, out, in);
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
  require_quant_weight(op, Q);
  const Device dev = op_device(op, {{"W", W}, {"Q.q", Q.q}, {"Q.scales", Q.scales}});
  GLM_CHECK(dev.is_cuda(), "{}: W must be on a CUDA device, got {}", op, W.describe());
  GLM_CHECK(W.dtype() == DType::f32 || W.dtype() == DType::f16, "{}: W must be f32 or f16, got {}",
            op, W.describe());
  require_layout(op, "W", W, W.dtype());
  require_shape(op, "W", W, {Q.out, Q.in});
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
