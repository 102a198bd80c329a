// The attention's six head products over one sample, the a heads as one batch, as shapes
// (kernels/gemm.h GemmShape) that every backend's attention takes: the CPU's fp32 and 16-bit
// paths (kernels/cpu/attention.cpp) and CUDA's unfused path (kernels/cuda/cuda_attention.cpp).
//
// Layouts (kernels/attention.h), per sample: qkv rows [T, a, 3, d] (row stride 3 a d; head h's
// q, k and v start at columns h 3d, h 3d + d, h 3d + 2d, so the caller passes q, q + d or
// q + 2d and the heads are 3d apart), and dqkv likewise; ctx and dctx rows [T, a, d]; the
// probabilities P, their dropped copy and the score gradients dP, dS [a, T, T].
#pragma once

#include <cstdint>

#include "kernels/gemm.h"

namespace glm::kernels {

struct HeadDims {
  std::int64_t T = 0, a = 0, d = 0;
  std::int64_t qkv_ld() const { return 3 * a * d; }  // row stride of qkv and dqkv
  std::int64_t ctx_ld() const { return a * d; }      // row stride of ctx and dctx
  std::int64_t square() const { return T * T; }      // one head's P, dP or dS
};

// Each shape: {trans_a, trans_b, M, N, K, lda, ldb, ldc, batch, stride_a, stride_b, stride_c}.

// S[h] [T, T] = q[h] k[h]^T
inline GemmShape scores_shape(HeadDims h) {
  return {Trans::N, Trans::T, h.T, h.T, h.d, h.qkv_ld(), h.qkv_ld(), h.T,
          h.a,      3 * h.d,  3 * h.d, h.square()};
}
// ctx[h] [T, d] = P[h] v[h]
inline GemmShape context_shape(HeadDims h) {
  return {Trans::N, Trans::N,   h.T,     h.d, h.T, h.T, h.qkv_ld(), h.ctx_ld(),
          h.a,      h.square(), 3 * h.d, h.d};
}
// dv[h] [T, d] = P[h]^T dctx[h]
inline GemmShape dvalue_shape(HeadDims h) {
  return {Trans::T, Trans::N,   h.T, h.d,    h.T, h.T, h.ctx_ld(), h.qkv_ld(),
          h.a,      h.square(), h.d, 3 * h.d};
}
// dP[h] [T, T] = dctx[h] v[h]^T
inline GemmShape dprobs_shape(HeadDims h) {
  return {Trans::N, Trans::T, h.T,     h.T,       h.d, h.ctx_ld(), h.qkv_ld(), h.T,
          h.a,      h.d,      3 * h.d, h.square()};
}
// dq[h] [T, d] = dS[h] k[h]
inline GemmShape dquery_shape(HeadDims h) {
  return {Trans::N, Trans::N,   h.T,     h.d, h.T, h.T, h.qkv_ld(), h.qkv_ld(),
          h.a,      h.square(), 3 * h.d, 3 * h.d};
}
// dk[h] [T, d] = dS[h]^T q[h]
inline GemmShape dkey_shape(HeadDims h) {
  return {Trans::T, Trans::N,   h.T,     h.d, h.T, h.T, h.qkv_ld(), h.qkv_ld(),
          h.a,      h.square(), 3 * h.d, 3 * h.d};
}

}  // namespace glm::kernels
