// fp16 and INT8/INT4 linears on CUDA (kernels/cuda/stored_linear.h). The input is converted
// to fp16 once (the CUDA kernels read fp16 x); one row takes the bandwidth-bound GEMV of
// quant_gemm.h, several rows its tensor-core kernels, or, for fp16 weights, cuBLASLt with
// the fp32 bias in the epilogue.
#include "kernels/cuda/stored_linear.h"

#include "kernels/convert.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/quant.h"

namespace glm::kernels::cuda {

void stored_linear_forward(Tensor& y, const Tensor& x, const LinearWeight& W, bool with_bias) {
  const std::int64_t n = x.size(0);
  if (n == 0) return;
  Tensor x16 = Tensor::empty(x.shape(), DType::f16, x.device());
  f32_to_f16(x16, x);
  const Tensor* b16 = with_bias ? &W.bias_f16 : nullptr;
  if (W.bits == 16 && n > 1) {  // several rows: cuBLASLt, fp32 accumulation
    LtGemmArgs g;
    g.trans_b = Trans::T;
    g.M = n;
    g.N = W.dense.size(0);
    g.K = W.dense.size(1);
    g.ab_type = DType::f16;
    g.c_type = DType::f32;
    g.A = x16.raw();
    g.lda = g.K;
    g.B = W.dense.raw();
    g.ldb = g.K;
    g.C = y.raw();
    g.ldc = g.N;
    g.bias = with_bias ? W.bias.raw() : nullptr;
    gemm_lt(g);
  } else if (W.bits == 16) {
    kernels::f16_linear_forward(y, x16, W.dense, b16);
  } else {
    kernels::quant_linear_forward(y, x16, W.quant, b16);
  }
}

}  // namespace glm::kernels::cuda
