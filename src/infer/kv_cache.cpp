// KV cache storage (infer/kv_cache.h).
#include "infer/kv_cache.h"

#include "core/error.h"

namespace glm::infer {

KVCache::KVCache(const modeldef::ModelConfig& c, int tp, int capacity, Device device, DType dtype)
    : capacity_(capacity), device_(device) {
  GLM_CHECK(dtype == DType::f32 || dtype == DType::f16, "KVCache: {} storage (f32 or f16)",
            dtype_name(dtype));
  GLM_CHECK(tp >= 1 && c.num_heads % tp == 0, "KVCache: tp {} vs {} heads", tp, c.num_heads);
  const std::int64_t al = c.num_heads / tp, d = c.head_dim();
  for (int i = 0; i < c.num_layers; ++i) {
    k_.push_back(Tensor::empty({al, capacity, d}, dtype, device));
    v_.push_back(Tensor::empty({al, capacity, d}, dtype, device));
  }
}

std::int64_t KVCache::bytes() const {
  std::int64_t n = 0;
  for (const auto& t : k_) n += 2 * static_cast<std::int64_t>(t.nbytes());
  return n;
}

}  // namespace glm::infer
