// Raw-pointer launchers of the dropout kernels (dropout_kernels.cu), and the plain
// parameter block the attention kernels share. No fmt, no Tensor: nvcc compiles this.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

// kernels/dropout.h's coordinates in device-friendly form: element (b, g, i, c) of a
// [B, G, I, C] view sits at global row ((sample_offset + b) * groups_total + group_offset + g)
// * I + i and is kept iff u(row, c) >= p (Philox key from (seed, kDropout)).
struct DropoutParams {
  std::uint32_t key0 = 0, key1 = 0;  // philox::make_key(seed, philox::kDropout)
  std::uint32_t site = 0, step = 0;
  std::int64_t sample_offset = 0, groups_total = 1, group_offset = 0;
  float p = 0.f, scale = 1.f;  // scale = 1 / (1 - p)
};

// dst = keep ? src * scale : 0 over rows = B*G*I rows of C columns (dst may equal src; each of
// any float storage).
cudaError_t launch_dropout(FloatOut dst, FloatIn src, std::int64_t B, std::int64_t groups,
                           std::int64_t I, std::int64_t C, const DropoutParams& d,
                           cudaStream_t s);

}  // namespace glm::kernels::cuda
