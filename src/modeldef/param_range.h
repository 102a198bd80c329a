// Element ranges of the flat parameter buffer and the parameter pieces they cover.
//
// Parameters, gradients and Adam moments all share one flat fp32 layout (modeldef::ParamLayout).
// The optimizer works on a contiguous [begin, end) range of it: the whole buffer on one
// rank, or one rank's ZeRO-1 shard, cut anywhere (even through the middle of a tensor).
// pieces_in_range() says which part of which parameter a range holds, which is what the
// per-element weight-decay decision and the checkpoint pieces (name, offset) need.
//
// Coordinate frames: `flat` = element index in the full flat buffer; `local` = index inside
// the range (0 .. range.size()); `in_param` = element index inside one parameter tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "modeldef/param_layout.h"

namespace glm::modeldef {

// [begin, end) in flat-buffer elements.
struct ElementRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
  bool operator==(const ElementRange&) const = default;
};

// The whole flat buffer of a layout.
ElementRange full_range(const modeldef::ParamLayout& layout);

// The part of one parameter that lies inside a range.
struct ParamPiece {
  int spec_index = -1;           // into layout.specs()
  ElementRange flat;             // where the piece sits in the flat buffer
  std::int64_t local_begin = 0;  // flat.begin - range.begin
  std::int64_t in_param = 0;     // flat.begin - spec.offset: first element of the tensor held
};

// Every parameter overlapping `range`, in flat order. The alignment padding between
// parameters belongs to no piece. Throws if the range lies outside the layout.
std::vector<ParamPiece> pieces_in_range(const modeldef::ParamLayout& layout, ElementRange range);

}  // namespace glm::modeldef
