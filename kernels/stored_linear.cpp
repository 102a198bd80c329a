// The stored-weight linear's entry (kernels/stored_linear.h): checked once here, then the
// CPU kernels of kernels/quant.h or kernels/cuda/stored_linear.cpp.
#include "kernels/stored_linear.h"

#include "core/error.h"
#include "kernels/check.h"
#include "kernels/convert.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/stored_linear.h"
#endif

namespace glm::kernels {

LinearWeight LinearWeight::of(Tensor W, Tensor b) {
  GLM_CHECK(W.dtype() == DType::f32 || W.dtype() == DType::f16 || W.dtype() == DType::bf16,
            "LinearWeight::of: W is {}, expected f32, f16 or bf16", W.describe());
  LinearWeight w;
  w.bits = W.dtype() == DType::f32 ? 32 : 16;
  w.dense = std::move(W);
  w.bias = std::move(b);
  return w;
}

LinearWeight LinearWeight::quantized(QuantWeight q, Tensor b) {
  GLM_CHECK(q.bits == 8 || q.bits == 4, "LinearWeight::quantized: bits {}", q.bits);
  LinearWeight w;
  w.bits = q.bits;
  w.quant = std::move(q);
  w.bias = std::move(b);
  return w;
}

std::int64_t LinearWeight::weight_bytes() const {
  return bits >= 16 ? static_cast<std::int64_t>(dense.nbytes()) : quant.weight_bytes();
}

std::int64_t LinearWeight::bytes() const {
  std::int64_t n = weight_bytes();
  if (has_bias()) n += static_cast<std::int64_t>(bias.nbytes());
  if (bias_f16.raw()) n += static_cast<std::int64_t>(bias_f16.nbytes());
  return n;
}

LinearWeight LinearWeight::to(Device dev) const {
  LinearWeight w;
  w.bits = bits;
  if (bits >= 16) {
    w.dense = dense.to(dev);
  } else {
    w.quant = quant;
    w.quant.q = quant.q.to(dev);
    w.quant.scales = quant.scales.to(dev);
  }
  if (has_bias()) {
    w.bias = bias.to(dev);
    if (dev.is_cuda() && bits <= 16) {  // the fused kernels add an fp16 bias
      Tensor b16 = Tensor::empty(bias.shape(), DType::f16);
      Tensor host = bias.to(Device::cpu());
      f32_to_f16(b16, host);
      w.bias_f16 = b16.to(dev);
    }
  }
  return w;
}

void stored_linear_forward(Tensor& y, const Tensor& x, const LinearWeight& W, bool with_bias,
                           const LinearOptions& o) {
  const char* op = "stored_linear_forward";
  GLM_CHECK(x.dim() == 2 && x.size(1) == W.in(), "{}: x is {}, expected [n, {}]", op,
            x.describe(), W.in());
  GLM_CHECK(y.dim() == 2 && y.size(0) == x.size(0) && y.size(1) == W.out(),
            "{}: y is {}, expected [{}, {}]", op, y.describe(), x.size(0), W.out());
  const Tensor& stored = W.bits >= 16 ? W.dense : W.quant.q;
  const Device dev = op_device(op, {{"y", y}, {"x", x}, {"W", stored}});
  const Tensor* b = with_bias && W.has_bias() ? &W.bias : nullptr;
  if (b)
    GLM_CHECK(b->numel() == W.out(), "{}: bias {} for {} outputs", op, b->describe(), W.out());
  // The training op takes fp32 weights, and 16-bit ones with 16-bit activations (the 16-bit
  // parameters of an fp16 / bf16 run), in any storage mix (kernels/linear.h). fp16 weights
  // with fp32 activations are the inference kernels' case below.
  if (W.bits == 32 || x.dtype() != DType::f32 || y.dtype() != DType::f32 ||
      W.dense.dtype() == DType::bf16) {
    linear_forward(y, x, W.dense, b);
    return;
  }
  GLM_CHECK(x.dtype() == DType::f32 && y.dtype() == DType::f32,
            "{}: x {} and y {} must be f32 with {}-bit weights", op, x.describe(), y.describe(),
            W.bits);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    GLM_CHECK(!b || W.bias_f16.raw(), "{}: a CUDA weight's bias needs its fp16 copy "
              "(LinearWeight::to makes it)", op);
    return cuda::stored_linear_forward(y, x, W, b != nullptr);
  }
#endif
  if (W.bits == 16)
    f16_linear_forward(y, x, W.dense, b);
  else
    quant_linear_forward(y, x, W.quant, b, QuantIsa::best, o.activations);
}

}  // namespace glm::kernels
