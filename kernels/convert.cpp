// The conversions' entries: checked once here, then run by
// kernels/cpu/convert.cpp or kernels/cuda/convert_kernels.cu.
#include "kernels/convert.h"

#include <cstdint>

#include "kernels/check.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/convert_launch.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/float_kind.h"
#endif

namespace glm::kernels {
namespace {

// dst and src on one device, of the given dtypes, contiguous, of one element count.
[[maybe_unused]] Device check_pair(const char* op, const Tensor& dst, DType dst_type,
                                   const Tensor& src, DType src_type) {
  const Device dev = op_device(op, {{"dst", dst}, {"src", src}});
  require_layout(op, "dst", dst, dst_type);
  require_layout(op, "src", src, src_type);
  require_numel(op, "dst", dst, src.numel());
  return dev;
}

}  // namespace

bool is_float_storage(DType t) { return t == DType::f32 || t == DType::f16 || t == DType::bf16; }

void convert(Tensor& dst, const Tensor& src) {
  constexpr const char* op = "convert";
  [[maybe_unused]] const Device dev = op_device(op, {{"dst", dst}, {"src", src}});
  for (const Arg& a : {Arg("dst", dst), Arg("src", src)}) {
    GLM_CHECK(is_float_storage(a.t->dtype()), "{}: {} is {}, expected f32, f16 or bf16", op,
              a.name, a.t->describe());
    require_layout(op, a.name, *a.t, a.t->dtype());
  }
  require_numel(op, "dst", dst, src.numel());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(cuda::launch_convert(dst.raw(), cuda::float_kind(dst.dtype()), src.raw(),
                                                   cuda::float_kind(src.dtype()), src.numel(),
                                                   cuda::current_stream()),
                              op);
#endif
  cpu::convert(dst, src);
}

// The fixed-pair conversions: their dtypes checked, then the general conversion.
void f32_to_f16(Tensor& dst, const Tensor& src) {
  check_pair("f32_to_f16", dst, DType::f16, src, DType::f32);
  convert(dst, src);
}

void f16_to_f32(Tensor& dst, const Tensor& src) {
  check_pair("f16_to_f32", dst, DType::f32, src, DType::f16);
  convert(dst, src);
}

void round_to(Tensor& x, DType storage) {
  GLM_CHECK(storage == DType::f16 || storage == DType::bf16, "round_to: {} is not f16 or bf16",
            dtype_name(storage));
  require_f32("round_to", "x", x);
  if (storage == DType::f16) return round_to_f16(x);
  Tensor stored = Tensor::empty(x.shape(), storage, x.device());
  convert(stored, x);
  convert(x, stored);
}

void round_to_f16(Tensor& x) {
  constexpr const char* op = "round_to_f16";
  [[maybe_unused]] const Device dev = op_device(op, {{"x", x}});
  require_f32(op, "x", x);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_round_to_f16(x.data<float>(), x.numel(), cuda::current_stream()), op);
#endif
  cpu::round_to_f16(x);
}

}  // namespace glm::kernels
