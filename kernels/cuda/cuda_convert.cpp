#include "kernels/cuda/cuda_convert.h"

#include <cuda_runtime_api.h>

#include "core/error.h"
#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {}: {}", what, cudaGetErrorString(e)));
}

void require_cuda(const Tensor& t, DType dt, const char* op) {
  GLM_CHECK(t.device().is_cuda(), "{}: {} is not on a CUDA device", op, t.describe());
  GLM_CHECK(t.dtype() == dt && t.is_contiguous(), "{}: expected contiguous {}, got {}", op,
            dtype_name(dt), t.describe());
}

}  // namespace

void f32_to_f16(Tensor& dst, const Tensor& src, void* stream) {
  require_cuda(dst, DType::f16, "cuda::f32_to_f16");
  require_cuda(src, DType::f32, "cuda::f32_to_f16");
  GLM_CHECK(dst.numel() == src.numel(), "size mismatch {} vs {}", dst.describe(), src.describe());
  check(launch_f32_to_f16(dst.data<std::uint16_t>(), src.data<float>(), src.numel(),
                          static_cast<cudaStream_t>(stream)),
        "f32_to_f16 launch");
}

void f16_to_f32(Tensor& dst, const Tensor& src, void* stream) {
  require_cuda(dst, DType::f32, "cuda::f16_to_f32");
  require_cuda(src, DType::f16, "cuda::f16_to_f32");
  GLM_CHECK(dst.numel() == src.numel(), "size mismatch {} vs {}", dst.describe(), src.describe());
  check(launch_f16_to_f32(dst.data<float>(), src.data<std::uint16_t>(), src.numel(),
                          static_cast<cudaStream_t>(stream)),
        "f16_to_f32 launch");
}

void round_to_f16(Tensor& x, void* stream) {
  require_cuda(x, DType::f32, "cuda::round_to_f16");
  check(launch_round_to_f16(x.data<float>(), x.numel(), static_cast<cudaStream_t>(stream)),
        "round_to_f16 launch");
}

std::string device_description(int index) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
  return fmt::format("{} (sm_{}{})", p.name, p.major, p.minor);
}

}  // namespace glm::kernels::cuda
