// Attention on CUDA (contract in cuda_attention.h): the flash launches with their
// shared-memory planning, and the unfused path's per-sample cuBLAS GEMMs in the same order
// as kernels/cpu/attention.cpp.
#include "kernels/cuda/cuda_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention_products.h"
#include "kernels/cuda/attention_launch.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_dropout.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/launch_config.h"

namespace glm::kernels::cuda {
namespace {

struct Dims {
  std::int64_t B, T, a, d;
};

Dims dims_of(const Tensor& qkv) { return {qkv.size(0), qkv.size(1), qkv.size(2), qkv.size(4)}; }

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
  p.qkv = float_in(qkv);
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

// The dropout parameters of sample b alone (its rows start at sample_offset + b).
DropoutParams sample_dropout(const AttentionArgs& args, std::int64_t b) {
  DropoutParams d = dropout_params(args.dropout, args.dropout_p);
  d.sample_offset += b;
  return d;
}

}  // namespace

void attention_forward_flash(Tensor& ctx, Tensor& lse, const Tensor& qkv, const AttentionMask& mask,
                             const AttentionArgs& args) {
  constexpr const char* op = "attention_forward";
  const Dims D = dims_of(qkv);
  FlashParams p = flash_params(op, D, qkv, mask, args);
  p.ctx = float_out(ctx);
  p.lse = lse.data<float>();
  check_launch(launch_attention_flash_forward(p, current_stream()), op);
}

void attention_backward_flash(Tensor& dqkv, Tensor& rowdot, const Tensor& dctx, const Tensor& lse,
                              const Tensor& qkv, const AttentionMask& mask,
                              const AttentionArgs& args) {
  constexpr const char* op = "attention_backward";
  const Dims D = dims_of(qkv);
  FlashParams p = flash_params(op, D, qkv, mask, args);
  p.lse = lse.data<float>();
  p.dctx = float_in(dctx);
  p.rowdot = rowdot.data<float>();
  p.dqkv = float_out(dqkv);
  check_launch(launch_attention_flash_backward(p, current_stream()), op);
}

void attention_forward_unfused(Tensor& ctx, Tensor& probs, const Tensor& qkv,
                               const AttentionMask& mask, const AttentionArgs& args) {
  constexpr const char* op = "attention_forward";
  const Dims D = dims_of(qkv);
  const auto [B, T, a, d] = D;
  const float c = static_cast<float>(args.layer_number), alpha = alpha_of(D, args);
  const bool drop = args.dropout_p > 0.f;
  Tensor dropped = drop ? Tensor::empty({a, T, T}, DType::f32, qkv.device()) : Tensor();
  const HeadDims h{T, a, d};
  const std::int64_t ld = h.qkv_ld();
  const float* QKV = qkv.data<float>();
  float* PR = probs.data<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    const float* q = QKV + b * T * ld;
    float* P = PR + b * a * T * T;
    // S[hd] [T, T] = alpha * q[hd] k[hd]^T, then P = softmax(c * S) over allowed keys
    gemm_f32(scores_shape(h).f32_args(q, q + d, P, alpha));
    check_launch(launch_attention_softmax_rows(P, mask.prefix_len.data<std::int32_t>() + b,
                                               mask.valid_len.data<std::int32_t>() + b, 1, a, T, c,
                                               current_stream()),
                 op);
    const float* Pd = P;
    if (drop) {
      check_launch(launch_dropout(f32_out(dropped.data<float>()), f32_in(P), 1, a, T, T,
                                  sample_dropout(args, b), current_stream()),
                   op);
      Pd = dropped.data<float>();
    }
    // ctx[b, :, hd*d : hd*d+d] = P_dropped[hd] v[hd]
    gemm_f32(context_shape(h).f32_args(Pd, q + 2 * d, ctx.data<float>() + b * T * a * d));
  }
}

void attention_backward_unfused(Tensor& dqkv, Tensor& scratch, const Tensor& dctx,
                                const Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                                const AttentionArgs& args) {
  constexpr const char* op = "attention_backward";
  const Dims D = dims_of(qkv);
  const auto [B, T, a, d] = D;
  const float c = static_cast<float>(args.layer_number), alpha = alpha_of(D, args);
  const bool drop = args.dropout_p > 0.f;
  const HeadDims h{T, a, d};
  const std::int64_t ld = h.qkv_ld();
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
      check_launch(launch_dropout(f32_out(S), f32_in(P), 1, a, T, T, dp, current_stream()), op);
      Pd = S;
    }
    gemm_f32(dvalue_shape(h).f32_args(Pd, dc, dq + 2 * d));
    // dP_dropped[hd] = dctx[hd] v[hd]^T; dP = dropout(dP_dropped); dS = c P (dP - <dP, P>)
    gemm_f32(dprobs_shape(h).f32_args(dc, q + 2 * d, S));
    check_launch(launch_attention_softmax_backward_rows(S, P, a * T, a, T, c, 0,
                                                        drop ? &dp : nullptr, current_stream()),
                 op);
    // dq[hd] = alpha dS k[hd];  dk[hd] = alpha dS^T q[hd]
    gemm_f32(dquery_shape(h).f32_args(S, q + d, dq, alpha));
    gemm_f32(dkey_shape(h).f32_args(S, q, dq + d, alpha));
  }
}

}  // namespace glm::kernels::cuda
