// AdamW's fused update on the CPU (kernels/adamw.h). One contiguous chunk of [0, n) per
// OpenMP thread, each walking the segments that cross it; `omp simd` inner loops compiled
// per ISA (avx512f / avx2+fma / default, chosen at run time). This file is built without
// FMA contraction (CMakeLists.txt), so every element is computed by the same correctly
// rounded fp32 operations whatever the thread count, the ISA clone, or where a range cut
// puts it in a vector: what ZeRO-1 layout equivalence and the CUDA kernel's bit-identity need.
// With a 16-bit copy to write, each block of updated master weights is rounded into it while
// the block is still in L1 (kernels/cpu/row16.h): the same one pass over memory.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {
namespace {

// n elements with one weight-decay decision; elementwise and branch-free, so `omp simd`
// vectorises it (sqrt and divide included).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void adamw_span(
    float* __restrict p, float* __restrict m, float* __restrict v, const float* __restrict grad,
    std::int64_t n, const AdamWStepConstants c, float keep) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * c.inv_scale;
    const float mi = c.beta1 * m[i] + c.one_minus_beta1 * g;
    const float vi = c.beta2 * v[i] + c.one_minus_beta2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) * c.inv_sqrt_bias2 + c.eps;
    p[i] = p[i] * keep - c.step_size * (mi / denom);
  }
}

}  // namespace

void adamw_update(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad,
                  std::span<const AdamWSegment> segs, const AdamWStepConstants& c,
                  Tensor* rounded) {
  float* P = p.data<float>();
  float* M = m.data<float>();
  float* V = v.data<float>();
  const float* G = grad.data<float>();
  const std::int64_t n = p.numel();
  auto run = [&](std::int64_t i0, std::int64_t i1) {
    auto it = std::upper_bound(segs.begin(), segs.end(), i0,
                               [](std::int64_t i, const AdamWSegment& s) { return i < s.end; });
    for (; it != segs.end() && it->begin < i1; ++it) {
      const std::int64_t b = std::max(i0, it->begin), e = std::min(i1, it->end);
      const float keep = it->decay ? c.decay_keep : 1.f;
      if (!rounded) {
        adamw_span(P + b, M + b, V + b, G + b, e - b, c, keep);
        continue;
      }
      constexpr std::int64_t kBlock = 4096;  // 16 KB of master weights: stays in L1
      for (std::int64_t x = b; x < e; x += kBlock) {
        const std::int64_t w = std::min(kBlock, e - x);
        adamw_span(P + x, M + x, V + x, G + x, w, c, keep);
        store_row(rounded->raw(), rounded->dtype(), x, P + x, w);
      }
    }
  };
  constexpr std::int64_t kSerialBelow = 1 << 15;
  if (n < kSerialBelow) {
    run(0, n);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    run(n * id / nt, n * (id + 1) / nt);
  }
}

}  // namespace glm::kernels::cpu
