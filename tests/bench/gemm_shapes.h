// The GEMM shapes of configs/small.json's training step (B=8, T=256 so R=2048 rows, h=512,
// 3h=1536, f=1344, 2f=2688, V=32000, 8 heads of 64), which bench_gemm and bench_gemm16 time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gemm.h"

namespace glm::bench {

struct GemmShape {
  std::string name;
  kernels::Trans ta, tb;
  std::int64_t M, N, K, batch = 1;
  bool b_is_weight = false;  // B is a weight matrix (reused across steps), not an activation
};

// Each linear layer y [R, out] = x [R, in] W^T ("fwd", NT) and its two backward products
// (dx = dy W, NN; dW = dy^T x, TN), the tied head included.
inline std::vector<GemmShape> small_linear_shapes() {
  using kernels::Trans;
  constexpr std::int64_t R = 2048, h = 512, f = 1344, V = 32000;
  const struct {
    const char* name;
    std::int64_t in, out;
  } linears[] = {{"qkv", h, 3 * h},
                 {"attn_out", h, h},
                 {"mlp_w1", h, 2 * f},
                 {"mlp_w2", f, h},
                 {"head", h, V}};
  std::vector<GemmShape> out;
  for (const auto& l : linears) {
    out.push_back({std::string(l.name) + "_fwd_NT", Trans::N, Trans::T, R, l.out, l.in, 1, true});
    out.push_back({std::string(l.name) + "_dx_NN", Trans::N, Trans::N, R, l.in, l.out, 1, true});
    out.push_back({std::string(l.name) + "_dW_TN", Trans::T, Trans::N, l.out, l.in, R, 1, false});
  }
  return out;
}

// Attention per sample, batched over heads: scores q k^T and context P v.
inline std::vector<GemmShape> small_attention_shapes() {
  using kernels::Trans;
  constexpr std::int64_t T = 256, heads = 8, d = 64;
  return {{"attn_scores_NT", Trans::N, Trans::T, T, T, d, heads},
          {"attn_pv_NN", Trans::N, Trans::N, T, d, T, heads}};
}

}  // namespace glm::bench
