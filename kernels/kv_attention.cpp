// The KV-cache attention's entry: checked once here, then run by kernels/cpu/kv_attention.cpp
// or kernels/cuda/kv_attention.cpp.
#include "kernels/kv_attention.h"

#include <limits>

#include "core/error.h"
#include "kernels/check.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/kv_attention.h"
#endif

namespace glm::kernels {

void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number) {
  constexpr const char* op = "kv_attention_forward";
  [[maybe_unused]] const Device dev =
      op_device(op, {{"ctx", ctx}, {"qkv", qkv}, {"K", K}, {"V", V}});
  require_f32(op, {{"ctx", ctx}, {"qkv", qkv}});
  GLM_CHECK((K.dtype() == DType::f32 || K.dtype() == DType::f16) && V.dtype() == K.dtype() &&
                K.is_contiguous() && V.is_contiguous(),
            "{}: the cache K {} / V {} must be contiguous f32 or f16, both alike", op,
            K.describe(), V.describe());
  GLM_CHECK(qkv.dim() == 4 && qkv.size(2) == 3, "{}: qkv must be [n, a, 3, d], got {}", op,
            qkv.describe());
  const std::int64_t n = qkv.size(0), a = qkv.size(1), d = qkv.size(3);
  GLM_CHECK(K.dim() == 3 && K.size(0) == a && K.size(2) == d,
            "{}: K {} does not match qkv {} ([a, cap, d])", op, K.describe(), qkv.describe());
  GLM_CHECK(V.shape() == K.shape(), "{}: V {} and K {} differ", op, V.describe(), K.describe());
  GLM_CHECK(ctx.shape() == (Shape{n, a * d}), "{}: ctx is {}, expected [{}, {}]", op,
            ctx.describe(), n, a * d);
  const std::int64_t cap = K.size(1);
  GLM_CHECK(t0 >= 0 && t0 + n <= cap, "KV cache overflow: {} + {} tokens, capacity {}", t0, n,
            cap);
  // A bidirectional prefix must arrive whole: queries before P see keys up to P.
  GLM_CHECK(t0 >= prefix_len || t0 + n >= prefix_len,
            "the prefix [0, {}) must be in one forward call (got tokens [{}, {}))", prefix_len, t0,
            t0 + n);
  GLM_CHECK(layer_number >= 1, "{}: layer number {} must be >= 1", op, layer_number);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) return cuda::kv_attention_forward(ctx, qkv, K, V, t0, prefix_len, layer_number);
#endif
  cpu::kv_attention_forward(ctx, qkv, K, V, t0, prefix_len, layer_number);
}

std::int64_t kv_attention_max_keys(Device dev, std::int64_t d) {
  if (dev.is_cpu()) return std::numeric_limits<int>::max();
#ifdef GLM_WITH_CUDA
  return cuda::kv_attention_max_keys(d);
#else
  throw Error("kv_attention_max_keys: a CUDA device in a build without CUDA");
#endif
}

}  // namespace glm::kernels
