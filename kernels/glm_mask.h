// The GLM attention mask (docs/design.md section 2), defined once for every backend: the CPU
// and CUDA attention kernels, for training and for the KV cache, all call glm_mask_limit.
//
// A sample has prefix (context) length P and valid length L (keys at j >= L are padding or
// not yet cached). Query i attends key j iff j < L and (j < P or j <= i): bidirectional over
// the prefix, causal after it. Since the allowed keys of a row are a prefix of the row, the
// kernels take the limit: key j is allowed iff j < glm_mask_limit(i, P, L).
//
// For a KV cache, i is the query's cache index and L the cache length after the new keys
// were appended; the prefix must be cached whole before any query past it (P <= L).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define GLM_MASK_HD __host__ __device__ __forceinline__
#else
#define GLM_MASK_HD inline
#endif

namespace glm::kernels {

// The definition: may query i see key j?
GLM_MASK_HD bool glm_mask_allows(std::int64_t i, std::int64_t j, std::int64_t P,
                                 std::int64_t L) {
  return j < L && (j < P || j <= i);
}

// The keys query i may see are exactly j < min(L, max(P, i + 1)).
GLM_MASK_HD std::int64_t glm_mask_limit(std::int64_t i, std::int64_t P, std::int64_t L) {
  const std::int64_t reach = P > i + 1 ? P : i + 1;
  return L < reach ? L : reach;
}

}  // namespace glm::kernels
