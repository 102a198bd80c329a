#include "model/attention_logits.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/convert.h"
#include "kernels/gemm.h"

namespace glm::model {

double max_attention_logit(const Tensor& qkv, const kernels::AttentionMask& mask, int heads,
                           int head_dim) {
  const std::int64_t B = qkv.size(0), T = qkv.size(1), a = heads, d = head_dim;
  // fp32 host copies (qkv may be 16-bit or on a GPU)
  Tensor host = qkv.device().is_cpu() ? qkv : qkv.to(Device::cpu());
  Tensor q32 = Tensor::empty(host.shape(), DType::f32);
  kernels::convert(q32, host);
  const Tensor P = mask.prefix_len.to(Device::cpu()), L = mask.valid_len.to(Device::cpu());
  std::vector<float> scores(static_cast<std::size_t>(a * T * T));
  double best = -std::numeric_limits<double>::infinity();
  const std::int64_t row = a * 3 * d;  // one position's q, k, v of every head
  for (std::int64_t b = 0; b < B; ++b) {
    const float* base = q32.data<float>() + b * T * row;
    kernels::GemmArgs g;  // scores[h] = q_h k_h^T / sqrt(d), batched over heads
    g.trans_b = kernels::Trans::T;
    g.M = g.N = T;
    g.K = d;
    g.alpha = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    g.A = base;            // q of head 0: [T, d] with row stride a*3*d
    g.lda = row;
    g.B = base + d;        // k of head 0
    g.ldb = row;
    g.C = scores.data();
    g.ldc = T;
    g.batch = a;
    g.stride_a = g.stride_b = 3 * d;
    g.stride_c = T * T;
    kernels::gemm(g);
    const std::int64_t prefix = P.data<std::int32_t>()[b], valid = L.data<std::int32_t>()[b];
    for (std::int64_t h = 0; h < a; ++h)
      for (std::int64_t i = 0; i < valid; ++i) {
        const float* s = scores.data() + (h * T + i) * T;
        const std::int64_t keys = std::min(valid, std::max(prefix, i + 1));  // j < P or j <= i
        for (std::int64_t j = 0; j < keys; ++j) best = std::max(best, double(s[j]));
      }
  }
  return best;
}

}  // namespace glm::model
