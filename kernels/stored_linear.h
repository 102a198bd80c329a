// A linear layer over its weight as stored: fp32 (training's parameters), fp16, or INT8/INT4
// with scales (exported models, kernels/quant.h). The model's one forward calls this for
// every linear, so training and inference run the same layer code (model/glm_layer.h).
//
//   y [n, out] = x [n, in] W^T (+ b)          on the weight's device; x and y f32 (or, with
//                                             fp32 weights, any storage of kernels/widen.h)
//
// Backends: fp32 weights take kernels::linear_forward (as training does). On
// the CPU, fp16 and INT8/INT4 weights take the fused kernels of kernels/quant.h (weights
// dequantized in registers; QuantActivations as the caller asks). On CUDA the input is
// converted to fp16 once per call and multiplied by the CUDA kernels of
// kernels/cuda/quant_gemm.h (one row: GEMV; more rows: tensor cores) or, for fp16 weights
// and several rows, cuBLASLt with the bias in its epilogue.
//
//   LinearWeight w = LinearWeight::quantized(q, bias);
//   stored_linear_forward(y, x, w, /*with_bias=*/true);
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/linear.h"
#include "kernels/quant.h"

namespace glm::kernels {

struct LinearWeight {
  int bits = 32;       // 32 or 16: `dense` holds W; 8 or 4: `quant` does
  Tensor dense;        // f32, f16 or bf16 [out, in]
  QuantWeight quant;   // INT8 / INT4 with fp16 scales
  Tensor bias;         // f32 [out], or empty (numel 0 or undefined) for none
  Tensor bias_f16;     // the bias in fp16 for the fused CUDA kernels (made by to(cuda))

  static LinearWeight of(Tensor W, Tensor b = {});              // fp32, fp16 or bf16 W
  static LinearWeight quantized(QuantWeight q, Tensor b = {});  // INT8 / INT4
  bool has_bias() const { return bias.raw() != nullptr; }
  std::int64_t out() const { return bits >= 16 ? dense.size(0) : quant.out; }
  std::int64_t in() const { return bits >= 16 ? dense.size(1) : quant.in; }
  std::int64_t weight_bytes() const;  // the weight (without bias) as stored
  std::int64_t bytes() const;         // weight and biases
  Device device() const { return bits >= 16 ? dense.device() : quant.q.device(); }
  // A copy on `dev` (the same bytes; on CUDA with bias_f16 for the fused kernels).
  LinearWeight to(Device dev) const;
};

struct LinearOptions {
  QuantActivations activations = QuantActivations::fp32;  // INT8/INT4 weights on the CPU
};

// y [n, out] = x [n, in] W^T, plus W.bias when with_bias (and W has one).
void stored_linear_forward(Tensor& y, const Tensor& x, const LinearWeight& W, bool with_bias,
                           const LinearOptions& options = {});

}  // namespace glm::kernels
