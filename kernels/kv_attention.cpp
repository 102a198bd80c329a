// The one entry of the KV-cache attention (kernels/kv_attention.h): checks, then the CPU or
// CUDA backend.
#include "kernels/kv_attention.h"

#include <limits>

#include "core/error.h"

namespace glm::kernels {

namespace cpu {
void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number);
}
#ifdef GLM_WITH_CUDA
namespace cuda {
void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number);
std::int64_t kv_attention_max_keys(std::int64_t d);
}  // namespace cuda
#endif

namespace {
void require(const char* op, const char* name, const Tensor& t, Device dev) {
  GLM_CHECK(t.dtype() == DType::f32 && t.is_contiguous(), "{}: {} is {}, expected contiguous f32",
            op, name, t.describe());
  GLM_CHECK(t.device() == dev, "{}: {} is {}, the cache is on {}", op, name, t.describe(),
            dev.is_cpu() ? "cpu" : "cuda");
}
}  // namespace

void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number) {
  constexpr const char* op = "kv_attention_forward";
  const Device dev = K.device();
  require(op, "K", K, dev);
  require(op, "V", V, dev);
  require(op, "qkv", qkv, dev);
  require(op, "ctx", ctx, dev);
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
  if (dev.is_cuda()) {
#ifdef GLM_WITH_CUDA
    cuda::kv_attention_forward(ctx, qkv, K, V, t0, prefix_len, layer_number);
    return;
#else
    throw Error(fmt::format("{}: a device cache {} in a build without CUDA", op, K.describe()));
#endif
  }
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
