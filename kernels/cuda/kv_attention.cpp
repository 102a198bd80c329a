// The CUDA backend of the KV-cache attention (kernels/cuda/kv_attention.h): the launch
// limits of this device, checked before any CUDA call, then the raw-pointer launchers.
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

void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number) {
  constexpr const char* op = "kv_attention_forward (cuda)";
  const std::int64_t n = qkv.size(0), a = qkv.size(1), d = qkv.size(3);
  const std::int64_t cap = K.size(1);
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
  p.K = K.raw();
  p.V = V.raw();
  p.half_kv = K.dtype() == DType::f16;
  p.ctx = ctx.data<float>();
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
