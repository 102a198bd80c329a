// Helpers of the CPU kernels: when a kernel goes parallel and how it splits rows over
// threads, and require_cpu for the host-only export utilities of kernels/quant.h
// (quantize_weight, dequantize_weight). The argument checks of the ops are kernels/check.h,
// run by each op's entry.
#pragma once

#include <cstdint>
#include <string_view>

#include "kernels/check.h"

namespace glm::kernels::cpu {

// Throws glm::Error naming the op when a tensor lives on a CUDA device. Null pointers are
// optional arguments and pass.
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
