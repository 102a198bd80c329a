// Self-attention core on CPU (math, mask and shapes in kernels/attention.h).
//
// Per sample b the products run as one strided-batched GEMM over the heads, reading q, k, v
// straight out of the interleaved qkv [B, T, a, 3, d] (row stride 3*a*d, head stride 3*d)
// and writing ctx [B, T, a*d] / dqkv in place, so no head is ever copied or transposed.
// The mask is a prefix per query row (allowed keys are j < glm_mask_limit(i), kernels/glm_mask.h),
// so the softmax touches only allowed keys and writes exact zeros elsewhere. Softmax, dropout and
// their backward run fused per row while the row (T floats) is in L1, rows split over
// threads; exp is the vectorised polynomial of vec_math.h.
//
// Buffers: forward with dropout keeps the pre-dropout probabilities in `probs` (backward
// needs them at dropped positions too) and drops into a per-sample [a, T, T] temporary for
// the PV product. Backward uses `scratch` [B, a, T, T]: for each sample first the dropped
// probabilities (recomputed from probs and Philox; only when dropout_p > 0), then dP.
//
// 16-bit storage: where the 16-bit GEMM runs natively (kernels/gemm.h) and qkv, ctx, probs
// (and dctx, dqkv) share one 16-bit type, the head products read q, k, v and dctx as stored
// and write ctx, dq, dk, dv in 16 bits; S and dP land in fp32 sample buffers for the fp32
// softmax rows, and P and dS are rounded once to 16 bits for their products
// (attention_forward_16 / attention_backward_16). Otherwise a sample's slice of each 16-bit
// tensor is widened into an fp32 buffer of one sample's size, the fp32 code runs on it, and
// outputs are rounded back once: bit-identical to the fp32 op on widened inputs
// (kernels/widen.h). Neither makes an fp32 copy of a [B, ...] tensor; a 16-bit scratch is
// not touched (the sample buffers replace it).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/attention_products.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/dropout_row.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/row16.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/gemm.h"
#include "kernels/glm_mask.h"

namespace glm::kernels::cpu {

namespace {

inline std::int64_t row_limit(std::int64_t i, std::int64_t P, std::int64_t L) {
  return glm_mask_limit(i, P, L);
}

// p_j = softmax_j(scale * s_j) over j < lim, 0 for j >= lim (a row with lim = 0 is all 0).
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void softmax_row(float* s,
                                                                                  std::int64_t T,
                                                                                  std::int64_t lim,
                                                                                  float scale) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (std::int64_t j = 0; j < lim; ++j) m = s[j] > m ? s[j] : m;
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t j = 0; j < lim; ++j) {
    const float e = exp_approx(scale * (s[j] - m));
    s[j] = e;
    sum += e;
  }
  const float inv = lim > 0 ? 1.f / sum : 0.f;
#pragma omp simd
  for (std::int64_t j = 0; j < lim; ++j) s[j] *= inv;
  for (std::int64_t j = lim; j < T; ++j) s[j] = 0.f;
}

// dp in place -> ds_j = scale * p_j * (dp_j - sum_k dp_k p_k)
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void softmax_backward_row(
    float* dp, const float* p, std::int64_t T, float scale) {
  float dot = 0.f;
#pragma omp simd reduction(+ : dot)
  for (std::int64_t j = 0; j < T; ++j) dot += dp[j] * p[j];
#pragma omp simd
  for (std::int64_t j = 0; j < T; ++j) dp[j] = scale * p[j] * (dp[j] - dot);
}

struct MaskView {
  const std::int32_t* P;
  const std::int32_t* L;
};

// The mask's lengths, each checked against [0, T].
MaskView read_mask(const char* op, const AttentionMask& mask, std::int64_t B, std::int64_t T) {
  MaskView m{mask.prefix_len.data<std::int32_t>(), mask.valid_len.data<std::int32_t>()};
  for (std::int64_t b = 0; b < B; ++b)
    GLM_CHECK(m.P[b] >= 0 && m.P[b] <= T && m.L[b] >= 0 && m.L[b] <= T,
              "{}: sample {} has prefix length {} / valid length {} outside [0, T={}]", op, b,
              m.P[b], m.L[b], T);
  return m;
}

// The constants of an attention call: the layer scaling c, the score scaling
// alpha = 1 / (sqrt(d) c), and the dropout stream.
struct Scaling {
  float c, alpha;
  bool drop;
  DropoutStream ds;
  Scaling(const AttentionArgs& args, std::int64_t d)
      : c(static_cast<float>(args.layer_number)),
        alpha(1.f / (std::sqrt(static_cast<float>(d)) * c)),
        drop(args.dropout_p > 0.f),
        ds(dropout_stream(args.dropout, drop ? args.dropout_p : 0.f)) {}
};

// One head product of one sample on 16-bit operands, the heads batched (shapes:
// kernels/attention_products.h; kernels/gemm.h gemm16: fp32 sums): A and B elements of
// `type`, C of `c_type`, alpha folded in by the caller.
void head_gemm16(const GemmShape& shape, DType type, const std::uint16_t* A,
                 const std::uint16_t* B, DType c_type, void* C) {
  Gemm16Args g = shape.args<Gemm16Args>();
  g.type = type;
  g.A = A;
  g.B = B;
  g.c_type = c_type;
  g.C = C;
  gemm16(g);
}

// n floats of src, times `scale`, rounded once into the 16-bit dst (rows split over threads).
void round_scaled(std::uint16_t* dst, DType type, const float* src, std::int64_t n, float scale,
                  std::vector<float>& tmp) {
  constexpr std::int64_t kChunk = 16384;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  tmp.resize(static_cast<std::size_t>(std::min(n, kChunk) * std::max<int>(1, omp_get_max_threads())));
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t o = c * kChunk, m = std::min(kChunk, n - o);
    const float* in = src + o;
    if (scale != 1.f) {
      float* t = tmp.data() + static_cast<std::size_t>(omp_get_thread_num()) * kChunk;
      for (std::int64_t i = 0; i < m; ++i) t[i] = scale * src[o + i];
      in = t;
    }
    store_row(dst, type, o, in, m);
  }
}

// One sample's slice [b * n, (b + 1) * n) of a float tensor as fp32: the tensor's own memory
// when it is f32, else `buf` (n floats), widened from the tensor when `read`.
class SampleSlice {
 public:
  SampleSlice(const Tensor& t, std::int64_t n) : t_(t), n_(n) {  // t_ shares t's storage
    if (t.dtype() != DType::f32) buf_.resize(static_cast<std::size_t>(n));
  }
  float* get(std::int64_t b, bool read) {
    if (buf_.empty()) return t_.data<float>() + b * n_;
    if (read)
      parallel_chunks([&](std::int64_t o, std::int64_t m) {
        load_row(buf_.data() + o, t_.raw(), t_.dtype(), b * n_ + o, m);
      });
    return buf_.data();
  }
  // Rounds the buffer into the tensor's slice (nothing to do when the tensor is f32).
  void store(std::int64_t b) {
    if (buf_.empty()) return;
    parallel_chunks([&](std::int64_t o, std::int64_t m) {
      store_row(t_.raw(), t_.dtype(), b * n_ + o, buf_.data() + o, m);
    });
  }

 private:
  // f(offset, count) over the slice in chunks, split over threads.
  template <class F>
  void parallel_chunks(F&& f) {
    constexpr std::int64_t kChunk = 16384;
    const std::int64_t chunks = (n_ + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n_ >= kParallelMin)
    for (std::int64_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(kChunk, n_ - c * kChunk));
  }
  Tensor t_;
  std::int64_t n_;
  std::vector<float> buf_;
};

}  // namespace

void attention_softmax_forward(Tensor& scores, const AttentionMask& mask, float scale) {
  const std::int64_t B = scores.size(0), a = scores.size(1), T = scores.size(2);
  const MaskView m = read_mask("attention_softmax_forward", mask, B, T);
  float* S = scores.data<float>();
#pragma omp parallel for schedule(static) if (B * a * T * T >= kParallelMin)
  for (std::int64_t row = 0; row < B * a * T; ++row) {
    const std::int64_t b = row / (a * T), i = row % T;
    softmax_row(S + row * T, T, row_limit(i, m.P[b], m.L[b]), scale);
  }
}

void attention_softmax_backward(Tensor& dprobs, const Tensor& probs, float scale) {
  const std::int64_t T = probs.dim() > 0 ? probs.size(-1) : 0, rows = rows_of(probs);
  float* DP = dprobs.data<float>();
  const float* P = probs.data<float>();
#pragma omp parallel for schedule(static) if (rows * T >= kParallelMin)
  for (std::int64_t row = 0; row < rows; ++row)
    softmax_backward_row(DP + row * T, P + row * T, T, scale);
}

namespace {

// qkv, ctx and probs stored in one 16-bit type whose GEMM runs natively (gemm16_path).
bool native_16bit(const Tensor& qkv, std::initializer_list<const Tensor*> others) {
  if ((qkv.dtype() != DType::bf16 && qkv.dtype() != DType::f16) ||
      gemm16_path(qkv.dtype()) != Gemm16Path::native)
    return false;
  for (const Tensor* t : others)
    if (t->dtype() != qkv.dtype()) return false;
  return true;
}

const std::uint16_t* u16(const Tensor& t) { return static_cast<const std::uint16_t*>(t.raw()); }
std::uint16_t* u16(Tensor& t) { return static_cast<std::uint16_t*>(t.raw()); }

// The forward on 16-bit operands: S = q k^T into an fp32 sample buffer (the 1/sqrt(d) and
// layer scaling folded into the softmax's scale), softmax and dropout in fp32 rows, P (or
// its dropped copy) rounded once to 16 bits, ctx = P v written in 16 bits by the GEMM.
void attention_forward_16(Tensor& ctx, Tensor& probs, const Tensor& qkv, const MaskView& m,
                          const AttentionArgs& args) {
  const std::int64_t B = qkv.size(0), T = qkv.size(1), a = qkv.size(2), d = qkv.size(4);
  const DType type = qkv.dtype();
  const auto [c, alpha, drop, ds] = Scaling(args, d);
  const HeadDims h{T, a, d};
  const std::int64_t ld_qkv = h.qkv_ld(), n = a * T * T;
  auto S = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(n));
  auto dropped = std::make_unique_for_overwrite<float[]>(drop ? static_cast<std::size_t>(n) : 0);
  std::vector<std::uint16_t> dropped16(drop ? static_cast<std::size_t>(n) : 0);
  std::vector<float> tmp;
  for (std::int64_t b = 0; b < B; ++b) {
    const std::uint16_t* q = u16(qkv) + b * T * ld_qkv;
    head_gemm16(scores_shape(h), type, q, q + d, DType::f32, S.get());
    const std::int32_t Pb = m.P[b], Lb = m.L[b];
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (std::int64_t row = 0; row < a * T; ++row) {
      const std::int64_t hd = row / T, i = row % T;
      softmax_row(S.get() + row * T, T, row_limit(i, Pb, Lb), c * alpha);
      if (drop)
        dropout_row(dropped.get() + row * T, S.get() + row * T, T, ds,
                    dropout_global_row(args.dropout, b, hd, i, T));
    }
    std::uint16_t* P16 = u16(probs) + b * n;
    round_scaled(P16, type, S.get(), n, 1.f, tmp);
    if (drop) round_scaled(dropped16.data(), type, dropped.get(), n, 1.f, tmp);
    head_gemm16(context_shape(h), type, drop ? dropped16.data() : P16, q + 2 * d, type,
                u16(ctx) + b * T * a * d);
  }
}

// The backward on 16-bit operands: dv = Pd^T dctx and dP = dctx v^T from the stored
// 16-bit P, dS in fp32 rows, rounded once (times the scaling) for dq = dS k and dk = dS^T q;
// dq, dk and dv written in 16 bits by the GEMMs.
void attention_backward_16(Tensor& dqkv, const Tensor& dctx, const Tensor& probs,
                           const Tensor& qkv, const AttentionArgs& args) {
  const std::int64_t B = qkv.size(0), T = qkv.size(1), a = qkv.size(2), d = qkv.size(4);
  const DType type = qkv.dtype();
  const auto [c, alpha, drop, ds] = Scaling(args, d);
  const HeadDims h{T, a, d};
  const std::int64_t ld_qkv = h.qkv_ld(), n = a * T * T;
  SampleSlice PR(probs, n);
  auto S = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(n));
  std::vector<std::uint16_t> buf16(static_cast<std::size_t>(n));
  std::vector<float> tmp;
  for (std::int64_t b = 0; b < B; ++b) {
    const std::uint16_t* q = u16(qkv) + b * T * ld_qkv;
    std::uint16_t* dq = u16(dqkv) + b * T * ld_qkv;
    const std::uint16_t* dc = u16(dctx) + b * T * a * d;
    const std::uint16_t* P16 = u16(probs) + b * n;
    const float* P = PR.get(b, true);
    const std::uint16_t* Pd16 = P16;
    if (drop) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (std::int64_t row = 0; row < a * T; ++row)
        dropout_row(S.get() + row * T, P + row * T, T, ds,
                    dropout_global_row(args.dropout, b, row / T, row % T, T));
      round_scaled(buf16.data(), type, S.get(), n, 1.f, tmp);
      Pd16 = buf16.data();
    }
    // dv[hd] = Pd[hd]^T dctx[hd]
    head_gemm16(dvalue_shape(h), type, Pd16, dc, type, dq + 2 * d);
    // dP_dropped[hd] = dctx[hd] v[hd]^T
    head_gemm16(dprobs_shape(h), type, dc, q + 2 * d, DType::f32, S.get());
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (std::int64_t row = 0; row < a * T; ++row) {
      if (drop)
        dropout_row(S.get() + row * T, S.get() + row * T, T, ds,
                    dropout_global_row(args.dropout, b, row / T, row % T, T));
      softmax_backward_row(S.get() + row * T, P + row * T, T, c);
    }
    // dq[hd] = alpha dS k[hd];  dk[hd] = alpha dS^T q[hd]
    round_scaled(buf16.data(), type, S.get(), n, alpha, tmp);
    head_gemm16(dquery_shape(h), type, buf16.data(), q + d, type, dq);
    head_gemm16(dkey_shape(h), type, buf16.data(), q, type, dq + d);
  }
}

}  // namespace

void attention_forward(Tensor& ctx, Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                       const AttentionArgs& args) {
  const std::int64_t B = qkv.size(0), T = qkv.size(1), a = qkv.size(2), d = qkv.size(4);
  if (native_16bit(qkv, {&ctx, &probs}))
    return attention_forward_16(ctx, probs, qkv, read_mask("attention_forward", mask, B, T), args);
  const MaskView m = read_mask("attention_forward", mask, B, T);
  const auto [c, alpha, drop, ds] = Scaling(args, d);
  // Uninitialised on purpose: every row is written by dropout_row before the PV product.
  auto dropped =
      std::make_unique_for_overwrite<float[]>(drop ? static_cast<std::size_t>(a * T * T) : 0);

  const HeadDims h{T, a, d};
  const std::int64_t ld_qkv = h.qkv_ld();
  SampleSlice QKV(qkv, T * ld_qkv), CTX(ctx, T * a * d), PR(probs, a * T * T);
  for (std::int64_t b = 0; b < B; ++b) {
    const float* q = QKV.get(b, true);
    const float* k = q + d;
    const float* v = q + 2 * d;
    float* P = PR.get(b, false);
    // S[hd] [T, T] = alpha * q[hd] k[hd]^T
    gemm(scores_shape(h).f32_args(q, k, P, alpha));
    // P = softmax(c * S) over allowed keys; the dropped copy while the row is in L1.
    const std::int32_t Pb = m.P[b], Lb = m.L[b];
#pragma omp parallel for schedule(static) if (a * T * T >= kParallelMin)
    for (std::int64_t row = 0; row < a * T; ++row) {
      const std::int64_t hd = row / T, i = row % T;
      softmax_row(P + row * T, T, row_limit(i, Pb, Lb), c);
      if (drop)
        dropout_row(dropped.get() + row * T, P + row * T, T, ds,
                    dropout_global_row(args.dropout, b, hd, i, T));
    }
    // ctx[b, :, hd*d : hd*d+d] = P_dropped[hd] [T, T] v[hd] [T, d]
    gemm(context_shape(h).f32_args(drop ? dropped.get() : P, v, CTX.get(b, false)));
    PR.store(b);
    CTX.store(b);
  }
}

void attention_backward(Tensor& dqkv, Tensor& scratch, const Tensor& dctx, const Tensor& probs,
                        const Tensor& qkv, const AttentionMask& mask, const AttentionArgs& args) {
  const std::int64_t B = qkv.size(0), T = qkv.size(1), a = qkv.size(2), d = qkv.size(4);
  read_mask("attention_backward", mask, B, T);  // the mask is already in probs; only validated here
  if (native_16bit(qkv, {&dqkv, &dctx, &probs}))
    return attention_backward_16(dqkv, dctx, probs, qkv, args);
  const auto [c, alpha, drop, ds] = Scaling(args, d);

  const HeadDims h{T, a, d};
  const std::int64_t ld_qkv = h.qkv_ld();
  SampleSlice QKV(qkv, T * ld_qkv), DCTX(dctx, T * a * d), PR(probs, a * T * T),
      DQKV(dqkv, T * ld_qkv), SC(scratch, a * T * T);
  for (std::int64_t b = 0; b < B; ++b) {
    const float* q = QKV.get(b, true);
    const float* k = q + d;
    const float* v = q + 2 * d;
    float* dq = DQKV.get(b, false);  // every element is written below
    float* dk = dq + d;
    float* dv = dq + 2 * d;
    const float* dc = DCTX.get(b, true);
    const float* P = PR.get(b, true);
    float* S = SC.get(b, false);

    // dv[hd] [T, d] = P_dropped[hd]^T dctx[hd]
    const float* Pd = P;
    if (drop) {
#pragma omp parallel for schedule(static) if (a * T * T >= kParallelMin)
      for (std::int64_t row = 0; row < a * T; ++row)
        dropout_row(S + row * T, P + row * T, T, ds,
                    dropout_global_row(args.dropout, b, row / T, row % T, T));
      Pd = S;
    }
    gemm(dvalue_shape(h).f32_args(Pd, dc, dv));
    // dP_dropped[hd] [T, T] = dctx[hd] v[hd]^T  (overwrites the dropped probabilities)
    gemm(dprobs_shape(h).f32_args(dc, v, S));
    // dP = dropout(dP_dropped) (same mask and scale); dS = c * P * (dP - <dP, P>)
#pragma omp parallel for schedule(static) if (a * T * T >= kParallelMin)
    for (std::int64_t row = 0; row < a * T; ++row) {
      if (drop)
        dropout_row(S + row * T, S + row * T, T, ds,
                    dropout_global_row(args.dropout, b, row / T, row % T, T));
      softmax_backward_row(S + row * T, P + row * T, T, c);
    }
    // dq[hd] = alpha * dS k[hd];  dk[hd] = alpha * dS^T q[hd]
    gemm(dquery_shape(h).f32_args(S, k, dq, alpha));
    gemm(dkey_shape(h).f32_args(S, q, dk, alpha));
    DQKV.store(b);
  }
}

}  // namespace glm::kernels::cpu
