// The CPU backend: one function per op, with the signature of the public op in
// kernels/<op>.h (rope and dropout take what their entry has already worked out). The op's
// entry (kernels/<op>.cpp) has checked the arguments, so these take host tensors of the
// right dtypes and shapes and check only data (token ids, row indices, mask lengths).
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"
#include "kernels/adamw_step.h"
#include "kernels/attention.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"
#include "kernels/quant.h"

namespace glm::kernels::cpu {

void layernorm_forward(Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& x, const Tensor& gamma,
                       const Tensor& beta, float eps);
void residual_layernorm_forward(Tensor& s, Tensor& y, Tensor& mean, Tensor& rstd, const Tensor& a,
                                const Tensor& f, float alpha, const Tensor& gamma,
                                const Tensor& beta, float eps);
void layernorm_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy,
                        const Tensor* dres, float alpha_res, const Tensor& x, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma);

void geglu_forward(Tensor& g, const Tensor& u);
void geglu_backward(Tensor& du, const Tensor& dg, const Tensor& u);

// rope_forward with sign +1, rope_backward (the inverse rotation) with sign -1.
void rope_apply(Tensor& qkv, const Tensor& positions, float base, float sign);

void embedding_forward(Tensor& x, const Tensor& tokens, const Tensor& table,
                       std::int64_t vocab_start, std::int64_t vocab_total);
void embedding_backward(Tensor& dtable, const Tensor& dx, const Tensor& tokens, float alpha,
                        std::int64_t vocab_start);

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets, float grad_scale,
                           bool write_grad);
void sharded_ce_row_max(Tensor& row_max, const Tensor& logits);
void sharded_ce_partials(Tensor& partials, const Tensor& logits, const Tensor& targets,
                         const Tensor& row_max, std::int64_t vocab_start);
void sharded_ce_finish(Tensor& losses, Tensor& logits, const Tensor& targets, const Tensor& row_max,
                       const Tensor& totals, std::int64_t vocab_start, float grad_scale,
                       bool write_grad);

void linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b);
void linear_backward(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                     const Tensor& W, bool accumulate_dx);
// The same with x (and dy) in a 16-bit type whose gemm16 runs natively (kernels/gemm.h):
// every other operand enters the product rounded to x's type; y, dx, dW and db are f32 or
// x's type, b any float storage.
void linear_forward_16bit(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b);
void linear_backward_16bit(Tensor* dx, Tensor& dW, Tensor* db, const Tensor& dy, const Tensor& x,
                           const Tensor& W, bool accumulate_dx);
void add_bias(Tensor& y, const Tensor& b);

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b);
void axpy(Tensor& y, float alpha, const Tensor& x);
void scale(Tensor& y, float alpha);
double sum_squares(const Tensor& x);
bool all_finite(const Tensor& x);
void gather_rows(Tensor& out, const Tensor& src, const Tensor& index);
void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index);

// x viewed as [B, groups, I, C], p in (0, 1).
void dropout_apply(Tensor& x, float p, const DropoutSite& site, std::int64_t B, std::int64_t groups,
                   std::int64_t I);

void convert(Tensor& dst, const Tensor& src);
void round_to_f16(Tensor& x);

void attention_softmax_forward(Tensor& scores, const AttentionMask& mask, float scale);
void attention_softmax_backward(Tensor& dprobs, const Tensor& probs, float scale);
void attention_forward(Tensor& ctx, Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                       const AttentionArgs& args);
void attention_backward(Tensor& dqkv, Tensor& scratch, const Tensor& dctx, const Tensor& probs,
                        const Tensor& qkv, const AttentionMask& mask, const AttentionArgs& args);

// kernels/quant.h: the fused weight-only linears (x, y f32; b f32 or null).
void quant_linear_forward(Tensor& y, const Tensor& x, const QuantWeight& W, const Tensor* b,
                          QuantIsa isa, QuantActivations act);
void f16_linear_forward(Tensor& y, const Tensor& x, const Tensor& W, const Tensor* b,
                        QuantIsa isa);

// kernels/adamw.h: p, m, v updated in place over the segments, which tile [0, p.numel()).
void adamw_update(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad,
                  std::span<const AdamWSegment> segs, const AdamWStepConstants& c,
                  Tensor* rounded);

// kernels/kv_attention.h
void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number);

}  // namespace glm::kernels::cpu
