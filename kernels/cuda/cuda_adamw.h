// The fused AdamW update over an element range on CUDA tensors: the GPU side of
// optim/adamw.h, with its exact math (bit-identical; see adamw_kernels.cu):
//
//   cuda::AdamWUpdate update(segments);          // once: where weight decay applies
//   update.step(p, m, v, grad, constants);       // every step, on the current stream
//
// p, m, v and grad are f32 [n] on the device in the range's local frame. The segments list
// [begin, end) runs with one decay decision covering [0, n) (optim::AdamW builds the same
// runs from the parameter layout: decay on matrices, and on the embedding when configured).
// glm_cuda does not link glm_optim (kernels stay below optim), so the caller passes the
// runs and the constants; adamw_step_constants folds them exactly as optim/adamw.cpp does.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "kernels/cuda/adamw_launch.h"

namespace glm::kernels::cuda {

struct AdamWSegment {
  std::int64_t begin = 0, end = 0;
  bool decay = false;
};

// Step t counted from 1; the same double -> float folding as optim/adamw.cpp.
AdamWStepConstants adamw_step_constants(double lr, double beta1, double beta2, double eps,
                                        double weight_decay, std::int64_t t, float inv_scale);

// Segments cut into chunks of at most kAdamWChunk elements (host-side; tested here).
std::vector<AdamWChunk> adamw_chunks(std::span<const AdamWSegment> segments);

class AdamWUpdate {
 public:
  // Uploads the chunk table to the current device.
  explicit AdamWUpdate(std::span<const AdamWSegment> segments);
  void step(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad, const AdamWStepConstants& c);
  std::int64_t size() const { return n_; }

 private:
  Tensor chunks_;  // device copy of the AdamWChunk table (as raw bytes)
  std::int64_t num_chunks_ = 0, n_ = 0;
};

}  // namespace glm::kernels::cuda
