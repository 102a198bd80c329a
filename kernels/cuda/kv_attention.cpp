// Tensor-level API of the KV-cache attention (kv_attention.h): argument checks, all before
// any CUDA call, then the raw-pointer launchers of kv_attention_kernels.cu.
#include "kernels/cuda/kv_attention.h"

#include <climits>
#include <cmath>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kv_attention_launch.h"

namespace glm::kernels::cuda {

std::int64_t kv_attention_max_keys(std::int64_t d) {
  return max_shared_memory_optin() / 4 - d - 32;
}

void kv_cache_attention(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                        int prefix_len, int layer_number) {
  constexpr const char* op = "cuda::kv_cache_attention";
  require_f32(op, "qkv", qkv);
  require_f32(op, "K", K);
  require_f32(op, "V", V);
  require_device(op, "ctx", ctx);
  GLM_CHECK(ctx.dtype() == DType::f32 || ctx.dtype() == DType::f16,
            "{}: ctx must be f32 or f16, got {}", op, ctx.describe());
  GLM_CHECK(ctx.is_contiguous(), "{}: ctx must be contiguous", op);
  GLM_CHECK(qkv.dim() == 4 && qkv.size(2) == 3, "{}: qkv must be [n, a, 3, d], got {}", op,
            qkv.describe());
  const std::int64_t n = qkv.size(0), a = qkv.size(1), d = qkv.size(3);
  GLM_CHECK(K.dim() == 3 && K.size(0) == a && K.size(2) == d,
            "{}: K {} does not match qkv {} ([a, cap, d])", op, K.describe(), qkv.describe());
  require_shape(op, "V", V, K.shape());
  require_shape(op, "ctx", ctx, {n, a * d});
  const std::int64_t cap = K.size(1);
  GLM_CHECK(t0 >= 0 && t0 + n <= cap, "KV cache overflow: {} + {} tokens, capacity {}", t0, n, cap);
  // A bidirectional prefix must arrive whole: queries before P see keys up to P.
  GLM_CHECK(t0 >= prefix_len || t0 + n >= prefix_len,
            "the prefix [0, {}) must be in one forward call (got tokens [{}, {}))", prefix_len, t0,
            t0 + n);
  GLM_CHECK(layer_number >= 1, "{}: layer number {} must be >= 1", op, layer_number);
  GLM_CHECK(n <= 65535 && a <= INT_MAX && d <= INT_MAX && cap <= INT_MAX,
            "{}: {} queries, {} heads, head dim {}, capacity {} exceed the launch limits", op, n, a,
            d, cap);
  const std::int64_t max_keys = kv_attention_max_keys(d);
  GLM_CHECK(t0 + n <= max_keys,
            "{}: {} cached tokens exceed the {} whose scores fit one block's shared memory "
            "(head dim {})",
            op, t0 + n, max_keys, d);

  KvAttentionParams p;
  p.qkv = qkv.data<float>();
  p.K = K.data<float>();
  p.V = V.data<float>();
  p.ctx = ctx.raw();
  p.ctx_f16 = ctx.dtype() == DType::f16;
  p.n = static_cast<int>(n);
  p.a = static_cast<int>(a);
  p.d = static_cast<int>(d);
  p.cap = static_cast<int>(cap);
  p.t0 = t0;
  p.prefix_len = prefix_len;
  p.c = static_cast<float>(layer_number);
  p.inv = 1.f / (std::sqrt(static_cast<float>(d)) * p.c);
  check_launch(launch_kv_cache_append(p, current_stream()), op);
  check_launch(launch_kv_attention(p, current_stream()), op);
}

}  // namespace glm::kernels::cuda
