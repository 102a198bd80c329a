// Attention on CUDA (contract in cuda_attention.h): argument checks, the flash launches and
// the unfused path's per-sample cuBLAS GEMMs, in the same order as kernels/cpu/attention.cpp.
#include "kernels/cuda/cuda_attention.h"

#include <algorithm>

#include <cmath>

#include "kernels/cuda/attention_launch.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_dropout.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/launch_config.h"

namespace glm::kernels::cuda {
namespace {

struct Dims {
  std::int64_t B, T, a, d;
};

Dims check_qkv(const char* op, const Tensor& qkv, const AttentionMask& mask,
               const AttentionArgs& args) {
  require_f32(op, "qkv", qkv);
  GLM_CHECK(qkv.dim() == 5 && qkv.size(3) == 3 && qkv.size(2) == args.heads &&
                qkv.size(4) == args.head_dim,
            "{}: qkv {} is not [B, T, a={}, 3, d={}]", op, shape_str(qkv.shape()), args.heads,
            args.head_dim);
  GLM_CHECK(args.layer_number >= 1, "{}: layer_number {} must be >= 1", op, args.layer_number);
  if (!(args.dropout_p >= 0.f && args.dropout_p < 1.f))
    throw InputError(
        fmt::format("attention dropout probability {} is outside [0, 1)", args.dropout_p));
  const std::int64_t B = qkv.size(0);
  require_i32(op, "mask.prefix_len", mask.prefix_len);
  require_i32(op, "mask.valid_len", mask.valid_len);
  require_shape(op, "mask.prefix_len", mask.prefix_len, {B});
  require_shape(op, "mask.valid_len", mask.valid_len, {B});
  return {B, qkv.size(1), qkv.size(2), qkv.size(4)};
}

float alpha_of(const Dims& D, const AttentionArgs& args) {
  return 1.f / (std::sqrt(static_cast<float>(D.d)) * static_cast<float>(args.layer_number));
}

FlashParams flash_params(const char* op, const Dims& D, const Tensor& qkv,
                         const AttentionMask& mask, const AttentionArgs& args) {
  GLM_CHECK(D.d <= kFlashMaxHeadDim, "{}: head dim {} exceeds the flash kernels' {}", op, D.d,
            kFlashMaxHeadDim);
  GLM_CHECK(D.a <= 65535 && D.B <= 65535, "{}: {} heads x {} samples exceed the grid", op, D.a,
            D.B);
  // The largest tile of the three kernels (forward, dq, dkv) that this call may launch.
  std::int64_t need = 0;
  for (FlashKernel k : {FlashKernel::forward, FlashKernel::backward_dq, FlashKernel::backward_dkv})
    need = std::max(need, flash_smem_bytes(k, D.d));
  GLM_CHECK(need <= max_shared_memory_optin(),
            "{}: head dim {} needs {} bytes of shared memory, the device allows {}", op, D.d, need,
            max_shared_memory_optin());
  FlashParams p;
  p.qkv = qkv.data<float>();
  p.prefix_len = mask.prefix_len.data<std::int32_t>();
  p.valid_len = mask.valid_len.data<std::int32_t>();
  p.B = D.B;
  p.T = D.T;
  p.a = D.a;
  p.d = D.d;
  p.alpha = alpha_of(D, args);
  p.c = static_cast<float>(args.layer_number);
  p.dropout = args.dropout_p > 0.f;
  if (p.dropout) p.drop = dropout_params(args.dropout, args.dropout_p);
  return p;
}

// Strided-batched SGEMM over the a heads of one sample (as the CPU's head_gemm).
void head_gemm(Trans ta, Trans tb, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
               const float* A, std::int64_t lda, std::int64_t sa, const float* B, std::int64_t ldb,
               std::int64_t sb, float* C, std::int64_t ldc, std::int64_t sc, std::int64_t heads) {
  GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.M = M;
  g.N = N;
  g.K = K;
  g.alpha = alpha;
  g.A = A;
  g.lda = lda;
  g.stride_a = sa;
  g.B = B;
  g.ldb = ldb;
  g.stride_b = sb;
  g.C = C;
  g.ldc = ldc;
  g.stride_c = sc;
  g.batch = heads;
  gemm_f32(g);
}

// The dropout parameters of sample b alone (its rows start at sample_offset + b).
DropoutParams sample_dropout(const AttentionArgs& args, std::int64_t b) {
  DropoutParams d = dropout_params(args.dropout, args.dropout_p);
  d.sample_offset += b;
  return d;
}

bool is_flash_state(const Tensor& probs, const Dims& D) {
  return probs.shape() == Shape{D.B, D.a, D.T};
}

}  // namespace

void attention_softmax_forward(Tensor& scores, const AttentionMask& mask, float scale) {
  constexpr const char* op = "cuda::attention_softmax_forward";
  require_f32(op, "scores", scores);
  GLM_CHECK(scores.dim() == 4 && scores.size(2) == scores.size(3),
            "{}: scores must be [B, a, T, T], got {}", op, shape_str(scores.shape()));
  const std::int64_t B = scores.size(0), a = scores.size(1), T = scores.size(2);
  require_i32(op, "mask.prefix_len", mask.prefix_len);
  require_i32(op, "mask.valid_len", mask.valid_len);
  require_shape(op, "mask.prefix_len", mask.prefix_len, {B});
  require_shape(op, "mask.valid_len", mask.valid_len, {B});
  GLM_CHECK(scale > 0.f, "{}: scale {} must be positive", op, scale);
  check_launch(launch_attention_softmax_rows(scores.data<float>(),
                                             mask.prefix_len.data<std::int32_t>(),
                                             mask.valid_len.data<std::int32_t>(), B, a, T, scale,
                                             current_stream()),
               op);
}

void attention_softmax_backward(Tensor& dprobs, const Tensor& probs, float scale) {
  constexpr const char* op = "cuda::attention_softmax_backward";
  require_f32(op, "dprobs", dprobs);
  require_f32(op, "probs", probs);
  require_shape(op, "dprobs", dprobs, probs.shape());
  const std::int64_t T = probs.dim() > 0 ? probs.size(-1) : 0;
  check_launch(launch_attention_softmax_backward_rows(dprobs.data<float>(), probs.data<float>(),
                                                      rows_of(probs), 1, T, scale, 0, nullptr,
                                                      current_stream()),
               op);
}

void attention_forward_flash(Tensor& ctx, Tensor& lse, const Tensor& qkv,
                             const AttentionMask& mask, const AttentionArgs& args) {
  constexpr const char* op = "cuda::attention_forward_flash";
  const Dims D = check_qkv(op, qkv, mask, args);
  require_f32(op, "ctx", ctx);
  require_f32(op, "lse", lse);
  require_shape(op, "ctx", ctx, {D.B, D.T, D.a * D.d});
  require_numel(op, "lse", lse, D.B * D.a * D.T);
  FlashParams p = flash_params(op, D, qkv, mask, args);
  p.ctx = ctx.data<float>();
  p.lse = lse.data<float>();
  check_launch(launch_attention_flash_forward(p, current_stream()), op);
}

void attention_backward_flash(Tensor& dqkv, Tensor& rowdot, const Tensor& dctx, const Tensor& lse,
                              const Tensor& qkv, const AttentionMask& mask,
                              const AttentionArgs& args) {
  constexpr const char* op = "cuda::attention_backward_flash";
  const Dims D = check_qkv(op, qkv, mask, args);
  require_f32(op, "dqkv", dqkv);
  require_f32(op, "rowdot", rowdot);
  require_f32(op, "dctx", dctx);
  require_f32(op, "lse", lse);
  require_shape(op, "dqkv", dqkv, qkv.shape());
  require_shape(op, "dctx", dctx, {D.B, D.T, D.a * D.d});
  require_numel(op, "lse", lse, D.B * D.a * D.T);
  GLM_CHECK(rowdot.numel() >= D.B * D.a * D.T, "{}: rowdot {} holds fewer than B*a*T = {} floats",
            op, rowdot.describe(), D.B * D.a * D.T);
  FlashParams p = flash_params(op, D, qkv, mask, args);
  p.lse = lse.data<float>();
  p.dctx = dctx.data<float>();
  p.rowdot = rowdot.data<float>();
  p.dqkv = dqkv.data<float>();
  check_launch(launch_attention_flash_backward(p, current_stream()), op);
}

void attention_forward_unfused(Tensor& ctx, Tensor& probs, const Tensor& qkv,
                               const AttentionMask& mask, const AttentionArgs& args) {
  constexpr const char* op = "cuda::attention_forward_unfused";
  const auto D = check_qkv(op, qkv, mask, args);
  const auto [B, T, a, d] = D;
  require_f32(op, "ctx", ctx);
  require_f32(op, "probs", probs);
  require_shape(op, "ctx", ctx, {B, T, a * d});
  require_shape(op, "probs", probs, {B, a, T, T});
  const float c = static_cast<float>(args.layer_number), alpha = alpha_of(D, args);
  const bool drop = args.dropout_p > 0.f;
  Tensor dropped = drop ? Tensor::empty({a, T, T}, DType::f32, qkv.device()) : Tensor();
  const std::int64_t ld = 3 * a * d;
  const float* QKV = qkv.data<float>();
  float* PR = probs.data<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    const float* q = QKV + b * T * ld;
    float* P = PR + b * a * T * T;
    // S[hd] [T, T] = alpha * q[hd] k[hd]^T, then P = softmax(c * S) over allowed keys
    head_gemm(Trans::N, Trans::T, T, T, d, alpha, q, ld, 3 * d, q + d, ld, 3 * d, P, T, T * T, a);
    check_launch(launch_attention_softmax_rows(P, mask.prefix_len.data<std::int32_t>() + b,
                                               mask.valid_len.data<std::int32_t>() + b, 1, a, T, c,
                                               current_stream()),
                 op);
    const float* Pd = P;
    if (drop) {
      check_launch(launch_dropout(dropped.data<float>(), P, 1, a, T, T, sample_dropout(args, b),
                                  current_stream()),
                   op);
      Pd = dropped.data<float>();
    }
    // ctx[b, :, hd*d : hd*d+d] = P_dropped[hd] v[hd]
    head_gemm(Trans::N, Trans::N, T, d, T, 1.f, Pd, T, T * T, q + 2 * d, ld, 3 * d,
              ctx.data<float>() + b * T * a * d, a * d, d, a);
  }
}

void attention_backward_unfused(Tensor& dqkv, Tensor& scratch, const Tensor& dctx,
                                const Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                                const AttentionArgs& args) {
  constexpr const char* op = "cuda::attention_backward_unfused";
  const auto D = check_qkv(op, qkv, mask, args);
  const auto [B, T, a, d] = D;
  for (auto [name, t] : {std::pair<const char*, const Tensor*>{"dqkv", &dqkv},
                         {"scratch", &scratch},
                         {"dctx", &dctx},
                         {"probs", &probs}})
    require_f32(op, name, *t);
  require_shape(op, "dqkv", dqkv, qkv.shape());
  require_shape(op, "dctx", dctx, {B, T, a * d});
  require_shape(op, "probs", probs, {B, a, T, T});
  require_shape(op, "scratch", scratch, {B, a, T, T});
  const float c = static_cast<float>(args.layer_number), alpha = alpha_of(D, args);
  const bool drop = args.dropout_p > 0.f;
  const std::int64_t ld = 3 * a * d;
  const float* QKV = qkv.data<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    const float* q = QKV + b * T * ld;
    float* dq = dqkv.data<float>() + b * T * ld;
    const float* dc = dctx.data<float>() + b * T * a * d;
    const float* P = probs.data<float>() + b * a * T * T;
    float* S = scratch.data<float>() + b * a * T * T;
    const DropoutParams dp = drop ? sample_dropout(args, b) : DropoutParams{};
    // dv[hd] = P_dropped[hd]^T dctx[hd]
    const float* Pd = P;
    if (drop) {
      check_launch(launch_dropout(S, P, 1, a, T, T, dp, current_stream()), op);
      Pd = S;
    }
    head_gemm(Trans::T, Trans::N, T, d, T, 1.f, Pd, T, T * T, dc, a * d, d, dq + 2 * d, ld, 3 * d,
              a);
    // dP_dropped[hd] = dctx[hd] v[hd]^T; dP = dropout(dP_dropped); dS = c P (dP - <dP, P>)
    head_gemm(Trans::N, Trans::T, T, T, d, 1.f, dc, a * d, d, q + 2 * d, ld, 3 * d, S, T, T * T, a);
    check_launch(launch_attention_softmax_backward_rows(S, P, a * T, a, T, c, 0,
                                                        drop ? &dp : nullptr, current_stream()),
                 op);
    // dq[hd] = alpha dS k[hd];  dk[hd] = alpha dS^T q[hd]
    head_gemm(Trans::N, Trans::N, T, d, T, alpha, S, T, T * T, q + d, ld, 3 * d, dq, ld, 3 * d, a);
    head_gemm(Trans::T, Trans::N, T, d, T, alpha, S, T, T * T, q, ld, 3 * d, dq + d, ld, 3 * d, a);
  }
}

void attention_forward(Tensor& ctx, Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                       const AttentionArgs& args) {
  const Dims D = check_qkv("cuda::attention_forward", qkv, mask, args);
  if (is_flash_state(probs, D))
    attention_forward_flash(ctx, probs, qkv, mask, args);
  else
    attention_forward_unfused(ctx, probs, qkv, mask, args);
}

void attention_backward(Tensor& dqkv, Tensor& scratch, const Tensor& dctx, const Tensor& probs,
                        const Tensor& qkv, const AttentionMask& mask, const AttentionArgs& args) {
  const Dims D = check_qkv("cuda::attention_backward", qkv, mask, args);
  if (is_flash_state(probs, D))
    attention_backward_flash(dqkv, scratch, dctx, probs, qkv, mask, args);
  else
    attention_backward_unfused(dqkv, scratch, dctx, probs, qkv, mask, args);
}

}  // namespace glm::kernels::cuda
