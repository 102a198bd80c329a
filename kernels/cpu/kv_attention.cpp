// The CPU backend of the KV-cache attention (kernels/kv_attention.h; the entry there checks
// the arguments). The score and value loops are `omp simd` reductions compiled per ISA
// (target_clones); (head, query) pairs are split over threads when there is enough work
// (prefill), a decode step runs its heads in parallel. The cache is fp32 or fp16.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"
#include "kernels/glm_mask.h"

namespace glm::kernels::cpu {

namespace {

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) float dot(const float* a,
                                                                           const float* b, int d) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < d; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void axpy(float* y, float a,
                                                                           const float* x, int d) {
#pragma omp simd
  for (int i = 0; i < d; ++i) y[i] += a * x[i];
}

}  // namespace

void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number) {
  const int n = static_cast<int>(qkv.size(0)), al = static_cast<int>(qkv.size(1));
  const int d = static_cast<int>(qkv.size(3)), cap = static_cast<int>(K.size(1));
  const float* src = qkv.data<float>();
  // An fp16 cache is read a row at a time into fp32 (d floats per thread), so the cache is
  // streamed at 2 bytes an element and no fp32 copy of it exists.
  const DType kv = K.dtype();
  const bool f32 = kv == DType::f32;
  auto row = [cap, d](int a, std::int64_t t) { return (static_cast<std::int64_t>(a) * cap + t) * d; };
  // store the new keys and values: qkv row i, head a -> [a][t0 + i][:]
  for (int i = 0; i < n; ++i)
    for (int a = 0; a < al; ++a) {
      const float* base = src + (static_cast<std::int64_t>(i) * al + a) * 3 * d;
      store_row(K.raw(), kv, row(a, t0 + i), base + d, d);
      store_row(V.raw(), kv, row(a, t0 + i), base + 2 * d, d);
    }
  const float c = static_cast<float>(layer_number);
  const float inv = 1.f / (std::sqrt(static_cast<float>(d)) * c);
  float* out = ctx.data<float>();
  const std::int64_t work = static_cast<std::int64_t>(n) * al * (t0 + n) * d;
#pragma omp parallel if (work > (1 << 15))
  {
    std::vector<float> p(static_cast<std::size_t>(t0 + n)), buf(f32 ? 0 : d);
    // row t of head a of K or V as fp32: in place for an fp32 cache, else converted into buf
    auto load = [&](const Tensor& T, int a, std::int64_t t) -> const float* {
      if (f32) return T.data<float>() + row(a, t);
      load_row(buf.data(), T.raw(), kv, row(a, t), d);
      return buf.data();
    };
#pragma omp for schedule(dynamic, 4) collapse(2)
    for (int a = 0; a < al; ++a)
      for (int i = 0; i < n; ++i) {
        const int qi = t0 + i;                          // cache index of the query
        const int keys = static_cast<int>(glm_mask_limit(qi, prefix_len, t0 + n));
        const float* q = src + (static_cast<std::int64_t>(i) * al + a) * 3 * d;
        float mx = -INFINITY;
        for (int j = 0; j < keys; ++j) {
          // q / (sqrt(d) c) inside the product, times c in the fp32 softmax (layer scaling)
          p[j] = dot(q, load(K, a, j), d) * inv * c;
          mx = std::max(mx, p[j]);
        }
        float sum = 0.f;
        for (int j = 0; j < keys; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        float* o = out + (static_cast<std::int64_t>(i) * al + a) * d;
        std::fill_n(o, d, 0.f);
        const float r = 1.f / sum;
        for (int j = 0; j < keys; ++j) axpy(o, p[j] * r, load(V, a, j), d);
      }
  }
}

}  // namespace glm::kernels::cpu
