// Boxes (hyper-rectangles) inside row-major tensors: how parameter pieces are described
// (docs/design.md section 7: a piece is `offset` + `shape` inside `global_shape`) and re-cut.
//
//   Box piece{{0, 64, 0}, {2, 64, 128}};            // offset, shape inside global [2, 256, 128]
//   for_each_run(global, piece, [&](std::int64_t in_box, std::int64_t in_global, std::int64_t n) {
//     std::memcpy(local + in_box, full + in_global, n * sizeof(float));  // one last-dim run
//   });
//   std::optional<Box> common = intersect(a, b);    // re-cutting: the part two pieces share
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace glm {

struct Box {
  Shape offset, shape;  // same rank; the box covers [offset[k], offset[k] + shape[k])
  bool operator==(const Box&) const = default;
};

// The common part of two boxes of the same rank, or nullopt when they do not overlap.
inline std::optional<Box> intersect(const Box& a, const Box& b) {
  Box r{Shape(a.offset.size()), Shape(a.offset.size())};
  for (std::size_t k = 0; k < a.offset.size(); ++k) {
    const std::int64_t lo = std::max(a.offset[k], b.offset[k]);
    const std::int64_t hi = std::min(a.offset[k] + a.shape[k], b.offset[k] + b.shape[k]);
    if (hi <= lo) return std::nullopt;
    r.offset[k] = lo;
    r.shape[k] = hi - lo;
  }
  return r;
}

// Row-major flat index of the point `at` (in the frame `frame_offset` + `frame_shape`).
inline std::int64_t flat_index(const Shape& at, const Shape& frame_offset, const Shape& frame_shape) {
  std::int64_t idx = 0;
  for (std::size_t k = 0; k < at.size(); ++k) idx = idx * frame_shape[k] + (at[k] - frame_offset[k]);
  return idx;
}

// Calls f(flat index in `outer_a`, flat index in `outer_b`, length) for every last-dimension
// run of `part`, a box inside both frames `outer_a` and `outer_b` (boxes in one coordinate
// system). A rank-0 box is one element.
template <class F>
void for_each_run(const Box& outer_a, const Box& outer_b, const Box& part, F&& f) {
  const std::size_t rank = part.shape.size();
  if (rank == 0) {
    f(std::int64_t{0}, std::int64_t{0}, std::int64_t{1});
    return;
  }
  std::int64_t runs = 1;
  for (std::size_t k = 0; k + 1 < rank; ++k) runs *= part.shape[k];
  Shape at = part.offset;
  for (std::int64_t r = 0; r < runs; ++r) {
    f(flat_index(at, outer_a.offset, outer_a.shape), flat_index(at, outer_b.offset, outer_b.shape),
      part.shape[rank - 1]);
    for (std::size_t k = rank - 1; k-- > 0;) {  // odometer over the leading dimensions
      if (++at[k] < part.offset[k] + part.shape[k]) break;
      at[k] = part.offset[k];
    }
  }
}

// The runs of a box inside the full tensor: f(flat index in the box, in the full tensor, n).
template <class F>
void for_each_run(const Shape& full_shape, const Box& box, F&& f) {
  for_each_run(box, Box{Shape(full_shape.size(), 0), full_shape}, box, f);
}

}  // namespace glm
