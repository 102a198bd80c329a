#include "modeldef/param_range.h"

#include <algorithm>

#include "core/error.h"

namespace glm::modeldef {

ElementRange full_range(const modeldef::ParamLayout& layout) { return {0, layout.total()}; }

std::vector<ParamPiece> pieces_in_range(const modeldef::ParamLayout& layout, ElementRange range) {
  if (range.begin < 0 || range.end < range.begin || range.end > layout.total())
    throw Error(fmt::format("element range [{}, {}) is outside the flat buffer [0, {})",
                            range.begin, range.end, layout.total()));
  std::vector<ParamPiece> pieces;
  const auto& specs = layout.specs();
  for (int i = 0; i < static_cast<int>(specs.size()); ++i) {
    const std::int64_t b = std::max(range.begin, specs[i].offset);
    const std::int64_t e = std::min(range.end, specs[i].offset + specs[i].numel());
    if (b >= e) continue;
    pieces.push_back({i, {b, e}, b - range.begin, b - specs[i].offset});
  }
  return pieces;
}

}  // namespace glm::modeldef
