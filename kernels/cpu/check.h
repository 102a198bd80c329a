// Argument checks shared by the CPU kernels, and the small helpers every kernel file uses
// (row counts, per-thread row ranges). Shape mismatches are bugs in the caller (the model),
// so they are GLM_CHECKs that print the shapes; data errors (a bad token id) are InputErrors
// raised by the kernels themselves.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/tensor.h"

namespace glm::kernels::cpu {

// Throws glm::Error naming the op when a tensor lives on a CUDA device: the op reached its
// CPU kernel with device memory (an op without a CUDA path, or a caller that mixed
// devices). Null pointers are optional arguments and pass.
inline void require_cpu_one(std::string_view op, const Tensor& t) {
  if (!t.device().is_cpu())
    throw Error(fmt::format("op {}: the CPU kernel got a device tensor {}", op, t.describe()));
}
inline void require_cpu_one(std::string_view op, const Tensor* t) {
  if (t) require_cpu_one(op, *t);
}
template <class... Ts>
void require_cpu(std::string_view op, const Ts&... ts) {
  (require_cpu_one(op, ts), ...);
}

// dtype and contiguity: every CPU kernel indexes raw contiguous memory.
inline void require_layout(std::string_view op, std::string_view name, const Tensor& t,
                           DType dtype) {
  GLM_CHECK(t.dtype() == dtype, "{}: {} is {}, expected {}", op, name, t.describe(),
            dtype_name(dtype));
  GLM_CHECK(t.is_contiguous(), "{}: {} must be contiguous, got {} with strides {}", op, name,
            t.describe(), shape_str(t.strides()));
}
inline void require_f32(std::string_view op, std::string_view name, const Tensor& t) {
  require_layout(op, name, t, DType::f32);
}
inline void require_i32(std::string_view op, std::string_view name, const Tensor& t) {
  require_layout(op, name, t, DType::i32);
}

inline void require_shape(std::string_view op, std::string_view name, const Tensor& t,
                          const Shape& expected) {
  GLM_CHECK(t.shape() == expected, "{}: {} has shape {}, expected {}", op, name,
            shape_str(t.shape()), shape_str(expected));
}
inline void require_numel(std::string_view op, std::string_view name, const Tensor& t,
                          std::int64_t expected) {
  GLM_CHECK(t.numel() == expected, "{}: {} has shape {} ({} elements), expected {} elements", op,
            name, shape_str(t.shape()), t.numel(), expected);
}

// A tensor viewed as [rows, last dim]: rows = numel / last dim (0 for an empty tensor).
inline std::int64_t rows_of(const Tensor& t) {
  if (t.dim() == 0) return 1;
  std::int64_t c = t.size(-1);
  return c == 0 ? 0 : t.numel() / c;
}

// Below this many elements of work a kernel runs on the calling thread: an OpenMP region
// costs a few microseconds (much more when the cores are shared and a worker is descheduled),
// which only pays off for ~32K floats (128 KB) of memory-bound work.
constexpr std::int64_t kParallelMin = std::int64_t{1} << 15;

// Thread t's share [begin, end) of n items split into nt contiguous blocks: used where a
// kernel keeps per-thread partial sums and reduces them in thread order (deterministic for
// a fixed thread count, no atomics).
struct Range {
  std::int64_t begin, end;
};
inline Range thread_range(std::int64_t n, int t, int nt) { return {n * t / nt, n * (t + 1) / nt}; }

}  // namespace glm::kernels::cpu
