// 16-bit storage at the op boundary (the precision policy, modeldef/precision.h): every op takes
// its floating-point tensors as f32, f16 or bf16, in any mix. An op whose kernel reads and
// writes fp32 sees a 16-bit argument through a Wide view: an fp32 copy converted on the way
// in, and, for an output, rounded back to the argument's dtype on the way out (to nearest
// even, kernels/convert.h). The arithmetic inside is fp32 whatever the storage, and the
// result equals the fp32 op on the widened inputs, rounded once when stored.
//
//   if (any_16bit({&y, &x, &gamma, &beta})) {
//     Wide Y(y, Wide::out), X(x), G(gamma), Bt(beta);
//     layernorm_forward(*Y, mean, rstd, *X, *G, *Bt, eps);   // the fp32 op
//     return Y.store();
//   }
//
// The copies live only for the op's call: stored activations stay 16-bit. A kernel that
// reads 16-bit storage natively takes its tensors as they are instead: the 16-bit GEMMs
// (kernels/gemm.h on the CPU, cuBLASLt in kernels/cuda/cuda_linear.h: the linear layers) and
// the CPU kernels that widen one row at a time (kernels/cpu/row16.h).
#pragma once

#include <initializer_list>

#include "core/tensor.h"

namespace glm::kernels {

inline bool is_16bit(const Tensor& t) { return t.dtype() == DType::f16 || t.dtype() == DType::bf16; }
// Whether any present tensor (null: an absent optional argument) is stored in 16 bits.
inline bool any_16bit(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t && t->raw() && is_16bit(*t)) return true;
  return false;
}

class Wide {
 public:
  enum Use { in, out, inout };
  // t itself when fp32 (or empty), else an fp32 copy on t's device; `in` and `inout` copies
  // start as t's values.
  explicit Wide(const Tensor& t, Use use = in);
  // An optional argument: null stays null.
  explicit Wide(const Tensor* t, Use use = in);

  Tensor& operator*() { return wide_; }
  Tensor* operator->() { return &wide_; }
  Tensor* get() { return present_ ? &wide_ : nullptr; }
  // An `out` or `inout` copy: rounds the fp32 result into the original tensor.
  void store();

 private:
  Tensor original_, wide_;
  Use use_ = in;
  bool present_ = true, copied_ = false;
};

}  // namespace glm::kernels
