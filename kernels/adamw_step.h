// The plain data of one AdamW update (kernels/adamw.h), shared with the CUDA kernel
// (nvcc sees no Tensor): the runs of elements with one weight-decay decision and the
// per-step constants, folded once on the host so the loop does one multiply where it can.
#pragma once

#include <cstdint>

namespace glm::kernels {

// Elements [begin, end) of the range (local frame) with one weight-decay decision.
struct AdamWSegment {
  std::int64_t begin = 0, end = 0;
  bool decay = false;
};

struct AdamWStepConstants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;       // lr / (1 - beta1^t)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
  float eps;
  float decay_keep;  // 1 - lr*wd (decaying elements)
  float inv_scale;
};

}  // namespace glm::kernels
