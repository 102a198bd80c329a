// Self-attention core with the GLM mask and query-key layer scaling (docs/design.md section 2).
//
// Mask for a sample with prefix (context) length P and valid length L (positions >= L are
// padding): query i may attend key j iff j < L and (j < P or j <= i). A row with no
// allowed key (L = 0) gets all-zero probabilities.
//
// Layer scaling with c = l+1 (the layer's 1-based index): q is multiplied by
// 1/(sqrt(d)*c) inside the score GEMM, the scores are multiplied by c and the softmax runs
// in fp32. Masked entries are excluded exactly (probability 0), which equals the -10000 /
// -inf fill of docs/design.md whenever a row has one allowed key.
//
// Shapes: qkv [B, T, a, 3, d] (after RoPE); ctx [B, T, a*d]; probs [B, a, T, T] saved for
// backward (before dropout; the dropout mask is recomputed from Philox, never stored).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/dropout.h"

namespace glm::kernels {

struct AttentionMask {
  Tensor prefix_len;  // i32 [B]: P per sample
  Tensor valid_len;   // i32 [B]: L per sample (T when there is no padding)
};

// scores [B, a, T, T] in place -> probabilities: softmax_j(scale * s_ij) over allowed j.
void attention_softmax_forward(Tensor& scores, const AttentionMask& mask, float scale);
// dprobs in place -> dscores = scale * p * (dp - sum_j dp_j p_j)
void attention_softmax_backward(Tensor& dprobs, const Tensor& probs, float scale);

struct AttentionArgs {
  int heads = 0;           // a (local heads under tensor parallelism)
  int head_dim = 0;        // d
  int layer_number = 1;    // c = l + 1 for query-key layer scaling
  float dropout_p = 0.f;   // on the probabilities
  DropoutSite dropout;     // where the dropout mask comes from (groups = heads)
};

// ctx = dropout(softmax(mask(q k^T / sqrt(d)))) v, written per head into ctx [B, T, a*d]
void attention_forward(Tensor& ctx, Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                       const AttentionArgs& args);

// dqkv [B, T, a, 3, d] = gradient of ctx w.r.t. q, k, v (overwritten). scratch is a
// [B, a, T, T] fp32 buffer the caller provides (reused across layers); its contents on
// entry are ignored and on return are unspecified (CPU: dscores). With dropout_p > 0 the
// CPU forward also allocates one [a, T, T] temporary per call for the dropped probabilities.
void attention_backward(Tensor& dqkv, Tensor& scratch, const Tensor& dctx, const Tensor& probs,
                        const Tensor& qkv, const AttentionMask& mask, const AttentionArgs& args);

}  // namespace glm::kernels
