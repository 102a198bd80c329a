// Row-level dropout used by dropout.cpp and fused into attention.cpp (the probabilities are
// dropped row by row right after the softmax, while the row is still in L1).
#pragma once

#include <cstdint>

#include "core/philox.h"
#include "kernels/dropout.h"

namespace glm::kernels::cpu {

// Everything about a dropout call that does not depend on the element.
struct DropoutStream {
  philox::Key key;
  std::uint32_t site = 0, step = 0;
  float p = 0.f, scale = 1.f;  // keep iff u >= p; kept values times scale = 1/(1-p)
};
DropoutStream dropout_stream(const DropoutSite& site, float p);

// dst[c] = keep(global_row, c) ? src[c] * scale : 0 for c < n; dst may equal src.
void dropout_row(float* dst, const float* src, std::int64_t n, const DropoutStream& s,
                 std::int64_t global_row);

// The global row of element (b, g, i) of a [B, G, I, C] view (kernels/dropout.h).
inline std::int64_t dropout_global_row(const DropoutSite& site, std::int64_t b, std::int64_t g,
                                       std::int64_t i, std::int64_t I) {
  return ((site.sample_offset + b) * site.groups_total + site.group_offset + g) * I + i;
}

}  // namespace glm::kernels::cpu
