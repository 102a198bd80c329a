// Dropout whose mask is a pure function of global coordinates (docs/design.md section 5).
//
// The tensor is viewed as [B, G, I, C] (samples, groups, rows within a group, columns).
// Element (b, g, i, c) sits at global row  r = ((sample_offset + b) * groups_total +
// group_offset + g) * I + i  and is kept iff the Philox uniform u(r, c) >= p, where u is
// lane c%4 of philox4x32_10(counter {c/4, r_lo, r_hi ^ site, step}, key (seed, kDropout)).
// So every layout (data, tensor or pipeline split) drops the same elements, the CPU and
// CUDA backends agree, and backward recomputes the mask instead of storing it.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels {

struct DropoutSite {
  std::uint64_t seed = 0;
  std::uint32_t step = 0;          // training step: a new mask every step
  std::uint32_t site = 0;          // which dropout in the model (layer * 8 + place)
  std::int64_t sample_offset = 0;  // global index of this micro-batch's first sample
  std::int64_t groups_total = 1;   // G over the whole model (all heads for attention)
  std::int64_t group_offset = 0;   // first group held here (tensor-parallel head offset)
};

// x viewed as [B, G, I, C] with B = shape[0], C = last dim, G given, I = rest / G.
// In place: x *= keep / (1 - p). Works identically for forward and backward.
void dropout_apply(Tensor& x, float p, const DropoutSite& site, std::int64_t groups);

// The keep decision for one element (the reference the kernel is tested against).
bool dropout_keep(const DropoutSite& site, float p, std::int64_t global_row, std::int64_t col);

}  // namespace glm::kernels
