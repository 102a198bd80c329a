// The fused AdamW update over a range of fp32 elements: the op behind optim/adamw.h, which
// states the math. One pass per element reads g, m, v, p and writes m, v, p:
//   g = grad*inv_scale; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g
//   p = p*keep - step_size * m / (sqrt(v)*inv_sqrt_bias2 + eps)   keep = 1 - lr*wd or 1
// Both backends compute each element with the same correctly rounded fp32 operations in the
// same order, no FMA contraction (kernels/cpu/adamw.cpp, kernels/cuda/adamw_kernels.cu), so
// a CUDA update is bit-identical to the CPU's, and a sub-range update to the full update
// restricted to it.
//
//   AdamWUpdate update(segments, master.device());   // once: where weight decay applies
//   update.step(p, m, v, grad, adamw_step_constants(lr, b1, b2, eps, wd, t, inv_scale));
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/adamw_step.h"

namespace glm::kernels {

// The constants of step t (counted from 1), folded from double to float.
AdamWStepConstants adamw_step_constants(double lr, double beta1, double beta2, double eps,
                                        double weight_decay, std::int64_t t, float inv_scale);

class AdamWUpdate {
 public:
  // segments tile [0, n) in order; on a CUDA device their chunk table is uploaded once.
  AdamWUpdate(std::vector<AdamWSegment> segments, Device device);
  // p, m, v, grad: contiguous f32 with size() elements each, on the update's device; the work
  // goes on the current stream there. `rounded` (optional, f16 or bf16, size() elements on
  // the same device): also receives the updated p rounded to nearest even: the 16-bit
  // parameters the model computes with (written in the same pass, on both backends).
  void step(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad, const AdamWStepConstants& c,
            Tensor* rounded = nullptr) const;
  std::int64_t size() const { return n_; }

 private:
  std::vector<AdamWSegment> segments_;
  Device device_;
  std::int64_t n_ = 0;
  Tensor device_chunks_;  // CUDA: the AdamWChunk table (raw bytes)
  std::int64_t num_chunks_ = 0;
};

}  // namespace glm::kernels
