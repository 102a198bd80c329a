// Rows of a float tensor stored as f32, f16 or bf16, moved through fp32 buffers that stay in
// L1: how a CPU kernel reads and writes 16-bit storage natively. A kernel widens the row it
// works on, runs its fp32 row code and rounds each output once (to nearest even), so the
// result is bit-identical to the fp32 op on widened inputs (kernels/widen.h) without an fp32
// copy of any tensor.
//
//   float* x = buf.data();                        // a thread's row buffer
//   load_row(x, u.raw(), u.dtype(), r * n, n);    // row r of u, as fp32
//   ...fp32 row code...
//   store_row(g.raw(), g.dtype(), r * n, x, n);
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace glm::kernels::cpu {

// dst[0, n) = the n values of `base` (dtype t) from element `offset`, as fp32.
void load_row(float* dst, const void* base, DType t, std::int64_t offset, std::int64_t n);
// The n fp32 values of src into `base` (dtype t) from element `offset`, rounded.
void store_row(void* base, DType t, std::int64_t offset, const float* src, std::int64_t n);

}  // namespace glm::kernels::cpu
