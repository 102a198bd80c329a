// The entries of the weight-only linears (kernels/quant.h): the weight format and the
// activations are checked here once, for both backends, before the CPU kernels
// (kernels/cpu/quant_linear.cpp) or the CUDA ones (kernels/cuda/quant_gemm.h) run.
#include "kernels/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/quant.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_stream.h"
#include "kernels/cuda/quant_gemm.h"
#endif

namespace glm::kernels {
namespace {

// x [.., in] and y [rows(x), out], with b [out] when present. The CPU kernels take fp32
// activations and bias; the CUDA kernels read x and b in fp16 (their callers convert once,
// kernels/cuda/stored_linear.cpp) and write y in fp32 or fp16, as [n, in] and [n, out].
void require_activations(std::string_view op, Device dev, const Tensor& y, const Tensor& x,
                         const Tensor* b, std::int64_t out, std::int64_t in) {
  const DType act = dev.is_cuda() ? DType::f16 : DType::f32;
  require_layout(op, "x", x, act);
  if (dev.is_cuda())
    GLM_CHECK(x.dim() == 2 && y.dim() == 2, "{}: x {} and y {} must be matrices on CUDA", op,
              x.describe(), y.describe());
  GLM_CHECK(x.dim() >= 1 && x.size(-1) == in, "{}: x {} does not end in in={}", op, x.describe(),
            in);
  GLM_CHECK(y.dtype() == DType::f32 || (dev.is_cuda() && y.dtype() == DType::f16),
            "{}: y is {}, expected f32{}", op, y.describe(), dev.is_cuda() ? " or f16" : "");
  require_layout(op, "y", y, y.dtype());
  require_numel(op, "y", y, rows_of(x) * out);
  if (dev.is_cuda()) require_shape(op, "y", y, {x.size(0), out});
  if (b) {
    require_layout(op, "b", *b, act);
    require_numel(op, "b", *b, out);
  }
}

}  // namespace

void require_quant_weight(std::string_view op, const QuantWeight& W) {
  GLM_CHECK(W.bits == 8 || W.bits == 4, "{}: weight bits {} is not 4 or 8", op, W.bits);
  GLM_CHECK(W.in > 0 && W.out >= 0, "{}: weight shape [{}, {}]", op, W.out, W.in);
  GLM_CHECK(W.group > 0 && W.in % W.group == 0 && (W.bits == 8 || W.group % 2 == 0),
            "{}: group size {} does not fit in = {} for int{}", op, W.group, W.in, W.bits);
  if (W.bits == 8) {
    require_layout(op, "W.q", W.q, DType::i8);
    require_shape(op, "W.q", W.q, {W.out, W.in});
  } else {
    require_layout(op, "W.q", W.q, DType::u8);
    require_shape(op, "W.q", W.q, {W.out, W.in / 2});
  }
  require_layout(op, "W.scales", W.scales, DType::f16);
  require_shape(op, "W.scales", W.scales, {W.out, W.groups()});
}

void quant_linear_forward(Tensor& y, const Tensor& x, const QuantWeight& W, const Tensor* b,
                          QuantIsa isa, QuantActivations act) {
  constexpr std::string_view op = "quant_linear_forward";
  const Device dev =
      op_device(op, {{"y", y}, {"x", x}, {"W.q", W.q}, {"W.scales", W.scales}, {"b", b}});
  require_quant_weight(op, W);
  require_activations(op, dev, y, x, b, W.out, W.in);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::quant_linear_forward(y, x, W, b, cuda::current_stream());
#endif
  cpu::quant_linear_forward(y, x, W, b, isa, act);
}

void f16_linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                        QuantIsa isa) {
  constexpr std::string_view op = "f16_linear_forward";
  const Device dev = op_device(op, {{"y", y}, {"x", x}, {"W", W}, {"b", b}});
  require_layout(op, "W", W, DType::f16);
  GLM_CHECK(W.dim() == 2 && W.size(1) > 0, "{}: W must be [out, in] with in > 0, got {}", op,
            W.describe());
  require_activations(op, dev, y, x, b, W.size(0), W.size(1));
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::f16_linear_forward(y, x, W, b, cuda::current_stream());
#endif
  cpu::f16_linear_forward(y, x, W, b, isa);
}

}  // namespace glm::kernels
