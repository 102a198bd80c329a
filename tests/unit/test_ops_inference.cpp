// Op harness rows (op_harness.h) of the two ops inference adds to the model's forward: the
// KV-cache attention (kernels/kv_attention.h: the appended cache and the attention over it,
// GLM mask from kernels/glm_mask.h's definition) and the stored-weight linear
// (kernels/stored_linear.h: fp32, fp16, INT8 and INT4 weights, the CUDA path included),
// each against an fp64 reference written here.
#include <cmath>

#include "kernels/convert.h"
#include "kernels/glm_mask.h"
#include "kernels/kv_attention.h"
#include "kernels/quant.h"
#include "kernels/stored_linear.h"
#include "op_harness.h"
#include "tests/test_util.h"

namespace glm::ops {
namespace {

namespace k = kernels;
using test::random_tensor;

// Scores over d, softmax and the sum over at most a few dozen keys in fp32: the bound of
// the training attention's rows (test_ops_attention.cpp), which sum over more keys.
constexpr Tol kKvAttn{1e-4, 1e-5};
// fp16, INT8 and INT4 weights: CUDA rounds x to fp16 first (the CUDA kernels read fp16 x),
// up to 2^-11 = 4.9e-4 relative per input, which over `in` <= 200 products of random sign
// moves y by up to ~1e-3 of its scale; 2e-3 of the scale holds that on either backend (the
// CPU's fp32 error is below 1e-5: test_kernel_stored_linear.cpp holds it to that), while a
// wrong weight, scale or nibble is an O(1e-1) error.
constexpr Tol kStoredLowBits{2e-3, 2e-3};

// n new tokens at cache rows [t0, t0+n) of a cache of `cap` (rows below t0 hold earlier
// keys and values, the rest garbage), prefix P.
OpRow kv_row(int n, int a, int d, int cap, int t0, int P, int layer) {
  OpRow row;
  row.inputs = {random_tensor({n, a, 3, d}, 301 + n), random_tensor({a, cap, d}, 302),
                random_tensor({a, cap, d}, 303)};
  row.outputs = {{"ctx", kKvAttn, kKvAttn}, {"K", kF32, kF32, true}, {"V", kF32, kF32, true}};
  row.forward = [=](RowRun& r) {
    Tensor ctx = r.empty({n, a * d});
    k::kv_attention_forward(ctx, r.in[0], r.in[1], r.in[2], t0, P, layer);
    return std::vector<Out>{{ctx}, {r.in[1]}, {r.in[2]}};
  };
  row.reference = [=](const std::vector<Vec>& v) {
    Vec K = v[1], V = v[2];
    auto qkv = [&](int i, int h, int part, int e) { return v[0][((i * a + h) * 3 + part) * d + e]; };
    for (int i = 0; i < n; ++i)
      for (int h = 0; h < a; ++h)
        for (int e = 0; e < d; ++e) {
          K[(h * cap + t0 + i) * d + e] = qkv(i, h, 1, e);
          V[(h * cap + t0 + i) * d + e] = qkv(i, h, 2, e);
        }
    Vec ctx(static_cast<std::size_t>(n) * a * d, 0.0);
    const int L = t0 + n;
    for (int i = 0; i < n; ++i)
      for (int h = 0; h < a; ++h) {
        Vec s(L, 0.0);
        double mx = -INFINITY;
        for (int j = 0; j < L; ++j) {
          if (!k::glm_mask_allows(t0 + i, j, P, L)) continue;
          double dot = 0;
          for (int e = 0; e < d; ++e) dot += qkv(i, h, 0, e) * K[(h * cap + j) * d + e];
          s[j] = dot / std::sqrt(double(d));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < L; ++j)
          if (k::glm_mask_allows(t0 + i, j, P, L)) sum += std::exp(s[j] - mx);
        for (int j = 0; j < L; ++j) {
          if (!k::glm_mask_allows(t0 + i, j, P, L)) continue;
          const double p = std::exp(s[j] - mx) / sum;
          for (int e = 0; e < d; ++e) ctx[(i * a + h) * d + e] += p * V[(h * cap + j) * d + e];
        }
      }
    return std::vector<Vec>{ctx, K, V};
  };
  return row;
}

// y [n, out] = x [n, in] W^T + b through stored_linear_forward, W stored in `bits` (32, 16,
// 8, 4), the reference multiplying by the weight as stored (rounded or dequantized here).
OpRow stored_row(int bits, std::int64_t n, std::int64_t out, std::int64_t in,
                 std::int64_t group) {
  OpRow row;
  const Tensor x = random_tensor({n, in}, 311), W = random_tensor({out, in}, 312),
               b = random_tensor({out}, 313);
  Tensor Wd = Tensor::empty({out, in}, DType::f32);  // the weight the storage holds
  k::LinearWeight host;
  if (bits == 32) {
    Wd = W;
    host = k::LinearWeight::of(W, b);
  } else if (bits == 16) {
    Tensor w16 = Tensor::empty({out, in}, DType::f16);
    k::f32_to_f16(w16, W);
    k::f16_to_f32(Wd, w16);
    host = k::LinearWeight::of(w16, b);
  } else {
    k::QuantWeight q = k::quantize_weight(W, bits, group);
    k::dequantize_weight(Wd, q);
    host = k::LinearWeight::quantized(q, b);
  }
  row.inputs = {x, Wd, b};
  const Tol tol = bits == 32 ? kF32 : kStoredLowBits;
  row.outputs = {{"y", tol, tol}};
  row.forward = [=](RowRun& r) {
    Tensor y = r.empty({n, out});
    k::stored_linear_forward(y, r.in[0], host.to(r.device), true);
    return std::vector<Out>{{y}};
  };
  row.reference = [=](const std::vector<Vec>& v) {
    Vec y(n * out);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t o = 0; o < out; ++o) {
        double s = v[2][o];
        for (std::int64_t c = 0; c < in; ++c) s += v[0][i * in + c] * v[1][o * in + c];
        y[i * out + o] = s;
      }
    return std::vector<Vec>{y};
  };
  return row;
}

std::vector<RowFactory> rows() {
  std::vector<RowFactory> r = {
      {"kv_attention_prefill_n12_a4_d64_P11", [] { return kv_row(12, 4, 64, 20, 0, 11, 1); }},
      {"kv_attention_decode_n1_a4_d64_t12", [] { return kv_row(1, 4, 64, 20, 12, 11, 2); }},
      {"kv_attention_n3_a2_d40_t17_P5", [] { return kv_row(3, 2, 40, 24, 17, 5, 3); }},
      {"kv_attention_prefix_ends_in_call_n2_d40", [] { return kv_row(2, 3, 40, 9, 6, 8, 1); }},
      {"kv_attention_first_token_no_prefix_d96", [] { return kv_row(1, 2, 96, 1, 0, 0, 1); }},
  };
  // n = 1 (GEMV), 5 (small GEMM), 70 (the tiled prefill path on the CPU)
  for (const std::int64_t n : {1, 5, 70}) {
    const std::string s = "_n" + std::to_string(n) + "_out37";
    r.push_back({"stored_linear_f32" + s + "_in96", [n] { return stored_row(32, n, 37, 96, 0); }});
    r.push_back({"stored_linear_f16" + s + "_in96", [n] { return stored_row(16, n, 37, 96, 0); }});
    r.push_back({"stored_linear_int8" + s + "_in200", [n] { return stored_row(8, n, 37, 200, 0); }});
    r.push_back(
        {"stored_linear_int4_g32" + s + "_in96", [n] { return stored_row(4, n, 37, 96, 32); }});
  }
  for (RowFactory& f : r) f.f32_only = "inference keeps fp32 activations and KV caches";
  return r;
}
GLM_OP_ROWS(rows);

}  // namespace
}  // namespace glm::ops
