// Device-side dropout decision, the same Philox draw as kernels/cpu/dropout.cpp
// (kernels/dropout.h): counter {col/4, row_lo, row_hi ^ site, step}, lane col%4.
#pragma once

#include "core/philox.h"
#include "kernels/cuda/dropout_launch.h"

namespace glm::kernels::cuda {

__device__ __forceinline__ std::int64_t dropout_row_of(const DropoutParams& d, std::int64_t b,
                                                       std::int64_t g, std::int64_t i,
                                                       std::int64_t I) {
  return ((d.sample_offset + b) * d.groups_total + d.group_offset + g) * I + i;
}

// The 4 uniforms of columns [4q, 4q+4) of a global row.
__device__ __forceinline__ philox::Block dropout_block(const DropoutParams& d, std::int64_t row,
                                                       std::int64_t q) {
  const auto r = static_cast<std::uint64_t>(row);
  return philox::philox4x32_10({static_cast<std::uint32_t>(q), static_cast<std::uint32_t>(r),
                                static_cast<std::uint32_t>(r >> 32) ^ d.site, d.step},
                               {d.key0, d.key1});
}

__device__ __forceinline__ std::uint32_t block_lane(const philox::Block& b, int lane) {
  return lane == 0 ? b.v[0] : lane == 1 ? b.v[1] : lane == 2 ? b.v[2] : b.v[3];
}

// keep ? scale : 0 for element (row, col).
__device__ __forceinline__ float dropout_factor(const DropoutParams& d, std::int64_t row,
                                                std::int64_t col) {
  const philox::Block b = dropout_block(d, row, col / 4);
  return philox::to_uniform(block_lane(b, static_cast<int>(col % 4))) >= d.p ? d.scale : 0.f;
}

}  // namespace glm::kernels::cuda
