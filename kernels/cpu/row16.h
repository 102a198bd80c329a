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
//
// For kernels whose tensors may each be f32 or 16-bit, in_row / out_row / inout_row / finish_row
// keep the fp32 path copy-free: an f32 tensor's row is its own memory, a 16-bit one's is `buf`.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace glm::kernels::cpu {

// dst[0, n) = the n values of `base` (dtype t) from element `offset`, as fp32.
void load_row(float* dst, const void* base, DType t, std::int64_t offset, std::int64_t n);
// The n fp32 values of src into `base` (dtype t) from element `offset`, rounded.
void store_row(void* base, DType t, std::int64_t offset, const float* src, std::int64_t n);

// Row r (the n values from element r * n) of t, as fp32: t's memory when f32, else `buf`
// (n floats) filled from t.
inline const float* in_row(const Tensor& t, std::int64_t r, std::int64_t n, float* buf) {
  if (t.dtype() == DType::f32) return t.data<float>() + r * n;
  load_row(buf, t.raw(), t.dtype(), r * n, n);
  return buf;
}
// Where to compute row r of t: t's memory when f32, else `buf`; finish_row then rounds it in.
inline float* out_row(Tensor& t, std::int64_t r, std::int64_t n, float* buf) {
  return t.dtype() == DType::f32 ? t.data<float>() + r * n : buf;
}
// Row r of t to update in place: t's memory when f32, else `buf` filled from t; finish_row
// then rounds it back.
inline float* inout_row(Tensor& t, std::int64_t r, std::int64_t n, float* buf) {
  if (t.dtype() == DType::f32) return t.data<float>() + r * n;
  load_row(buf, t.raw(), t.dtype(), r * n, n);
  return buf;
}
inline void finish_row(Tensor& t, std::int64_t r, std::int64_t n, const float* row) {
  if (t.dtype() != DType::f32) store_row(t.raw(), t.dtype(), r * n, row, n);
}
// A thread's buffer for rows of n values of t: n floats when t is 16-bit, none when it is f32
// (its rows are used in place).
inline std::vector<float> row_buffer(const Tensor& t, std::int64_t n) {
  return std::vector<float>(t.dtype() == DType::f32 ? 0 : static_cast<std::size_t>(n));
}

}  // namespace glm::kernels::cpu
