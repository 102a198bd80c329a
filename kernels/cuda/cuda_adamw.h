// The CUDA backend of the AdamW op (kernels/adamw.h, whose entry checks the arguments): the
// segments cut into chunks of at most kAdamWChunk elements, uploaded once as a table, and
// one fused kernel over them on the current stream (adamw_kernels.cu: bit-identical to the
// CPU update).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "kernels/adamw.h"
#include "kernels/cuda/adamw_launch.h"

namespace glm::kernels::cuda {

using kernels::AdamWSegment;
using kernels::AdamWStepConstants;
using kernels::adamw_step_constants;

// Segments cut into chunks (host-side; tested here).
std::vector<AdamWChunk> adamw_chunks(std::span<const AdamWSegment> segments);

// The chunk table of `segments` on the current device (raw bytes); sets num_chunks.
Tensor upload_adamw_chunks(std::span<const AdamWSegment> segments, std::int64_t& num_chunks);

// p, m, v, grad f32 [n] on the device: one update over the uploaded chunk table; `rounded`
// (null, or f16 / bf16 [n]) receives the updated p rounded to nearest even in the same pass.
void adamw_update(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad, const Tensor& chunks,
                  std::int64_t num_chunks, const AdamWStepConstants& c, Tensor* rounded);

}  // namespace glm::kernels::cuda
