// Op harness rows (op_harness.h) of RoPE, the attention softmax and the attention core with
// the GLM mask (prefix, padding, causal, bidirectional and an empty sample), layer scaling
// and dropout, each with an fp64 reference written here as plain loops.
#include <cmath>

#include "kernels/attention.h"
#include "kernels/dropout.h"
#include "kernels/rope.h"
#include "op_harness.h"
#include "tests/test_util.h"

namespace glm::ops {
namespace {

namespace k = kernels;
using test::i32_tensor;
using test::random_tensor;

// RoPE against fp64: both backends form theta = pos * inv_freq in fp32 (inv_freq = 1 /
// powf(b, 2i/d)), three roundings of ~2^-24 each, so at positions up to 2047 theta is off by
// up to 2047 * 3 * 2^-24 ~ 3.7e-4 rad and each output by that times |x_i| + |x_{i+d/2}| <= 2:
// 1e-3 of the scale (a wrong sign or index is an O(1) error). CUDA against the CPU: both
// round theta identically, only sincos/powf's <= 2 ulp differ; the per-op CUDA test's bound.
constexpr Tol kRopeVsFp64{0, 1e-3};
// The same bound at positions below 16: theta off by <= 16 * 3 * 2^-24 ~ 2.9e-6 rad, each
// output by <= 5.7e-6; 1e-5 of the scale.
constexpr Tol kRopeSmallPosVsFp64{0, 1e-5};
constexpr Tol kRopeCudaVsCpu{1e-4, 1e-5};
// Attention reduces over T keys twice (scores over d, then probabilities over T) and the
// CUDA flash backward recomputes p = exp(c*s - lse) instead of reading the normalised value:
// |c*s - lse| up to ~20 carries ~20 * 2^-24 absolute error into the exponent, ~1e-6
// relative in p, amplified by the sums over T <= 150 keys. 1e-4 relative with a 1e-5 floor
// of the tensor's scale; a wrong mask entry, dropout decision or term is an O(1e-2..1) error.
constexpr Tol kAttn{1e-4, 1e-5};

// qkv [R, a, 3, d] -> q and k rotated; positions [R].
Vec rope_reference(const Vec& x, const Vec& pos, std::int64_t R, std::int64_t a, std::int64_t d,
                   double base, bool inverse) {
  Vec y = x;
  const std::int64_t half = d / 2;
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t h = 0; h < a; ++h)
      for (int which = 0; which < 2; ++which) {
        const std::int64_t o = ((r * a + h) * 3 + which) * d;
        for (std::int64_t i = 0; i < half; ++i) {
          const double theta = pos[r] * std::pow(base, -2.0 * i / d);
          const double c = std::cos(theta), s = inverse ? -std::sin(theta) : std::sin(theta);
          y[o + i] = x[o + i] * c - x[o + i + half] * s;
          y[o + i + half] = x[o + i + half] * c + x[o + i] * s;
        }
      }
  return y;
}

OpRow rope_row(std::int64_t R, std::int64_t a, std::int64_t d, int max_pos) {
  constexpr float kBase = 10000.f;
  OpRow row;
  std::vector<std::int32_t> pos(R);
  for (std::int64_t r = 0; r < R; ++r) pos[r] = static_cast<std::int32_t>((r * 53) % max_pos);
  row.inputs = {random_tensor({R, a, 3, d}, 61), i32_tensor(pos)};
  const Tol tol = max_pos <= 16 ? kRopeSmallPosVsFp64 : kRopeVsFp64;
  row.outputs = {{"qkv", tol, kRopeCudaVsCpu}};
  row.forward = [](RowRun& r) {
    Tensor y = r.in[0].clone();
    k::rope_forward(y, r.in[1], kBase);
    return std::vector<Out>{{y}};
  };
  row.reference = [R, a, d](const std::vector<Vec>& in) {
    return std::vector<Vec>{rope_reference(in[0], in[1], R, a, d, kBase, false)};
  };
  row.diff = {0};
  row.loss_outputs = {0};
  row.grad_tol = tol;
  row.grad_cuda_tol = kRopeCudaVsCpu;
  row.backward = [](RowRun& r, const std::vector<Out>&, const std::vector<Tensor>& w) {
    Tensor dqkv = w[0].clone();
    k::rope_backward(dqkv, r.in[1], kBase);
    return std::vector<Grad>{{dqkv}};
  };
  return row;
}

// Per sample: a prefix with padding, causal, bidirectional, empty (a row with no allowed key).
std::vector<Tensor> mask_inputs(std::int64_t B, std::int64_t T) {
  std::vector<std::int32_t> P, L;
  const int T32 = static_cast<int>(T);
  for (std::int64_t b = 0; b < B; ++b) {
    switch (b % 4) {
      case 0: P.push_back(T32 / 3), L.push_back(T32 - T32 / 4); break;
      case 1: P.push_back(0), L.push_back(T32); break;
      case 2: P.push_back(T32), L.push_back(T32); break;
      default: P.push_back(0), L.push_back(0); break;
    }
  }
  return {i32_tensor(P), i32_tensor(L)};
}

// The GLM mask as kernels/attention.h defines it: key j is allowed for query i iff j < L and
// (j < P or j <= i).
bool allowed(double P, double L, std::int64_t i, std::int64_t j) { return j < L && (j < P || j <= i); }

// Softmax over allowed j of scale * s[i, j] per row of [B, a, T, T]; all-zero without a key.
void masked_softmax(double* p, const double* s, double scale, double P, double L, std::int64_t i,
                    std::int64_t T) {
  double m = -INFINITY, sum = 0;
  for (std::int64_t j = 0; j < T; ++j)
    if (allowed(P, L, i, j)) m = std::max(m, scale * s[j]);
  for (std::int64_t j = 0; j < T; ++j) {
    p[j] = allowed(P, L, i, j) ? std::exp(scale * s[j] - m) : 0;
    sum += p[j];
  }
  for (std::int64_t j = 0; j < T; ++j) p[j] = sum > 0 ? p[j] / sum : 0;
}

OpRow softmax_row(std::int64_t B, std::int64_t a, std::int64_t T) {
  constexpr float kScale = 2.f;
  OpRow row;
  row.inputs = {random_tensor({B, a, T, T}, 9, -5, 5)};
  for (Tensor& m : mask_inputs(B, T)) row.inputs.push_back(m);
  row.outputs = {{"probs", kAttn, kAttn}};
  row.forward = [](RowRun& r) {
    Tensor p = r.in[0].clone();
    k::attention_softmax_forward(p, {r.in[1], r.in[2]}, kScale);
    return std::vector<Out>{{p}};
  };
  row.reference = [B, a, T](const std::vector<Vec>& in) {
    Vec p(in[0].size());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < a; ++h)
        for (std::int64_t i = 0; i < T; ++i) {
          const std::int64_t o = ((b * a + h) * T + i) * T;
          masked_softmax(&p[o], &in[0][o], kScale, in[1][b], in[2][b], i, T);
        }
    return std::vector<Vec>{p};
  };
  row.diff = {0};
  row.loss_outputs = {0};
  row.grad_tol = row.grad_cuda_tol = kAttn;
  row.backward = [](RowRun&, const std::vector<Out>& f, const std::vector<Tensor>& w) {
    Tensor d = w[0].clone();
    k::attention_softmax_backward(d, f[0].t, kScale);
    return std::vector<Grad>{{d}};
  };
  return row;
}

struct AttnCase {
  std::int64_t B, T, a, d;
  float p;     // dropout on the probabilities
  bool flash;  // on CUDA: the flash path (probs holds [B, a, T] softmax statistics)
};

k::AttentionArgs attention_args(const AttnCase& c) {
  k::AttentionArgs args;
  args.heads = static_cast<int>(c.a);
  args.head_dim = static_cast<int>(c.d);
  args.layer_number = 3;
  args.dropout_p = c.p;
  args.dropout.seed = 99;
  args.dropout.step = 4;
  args.dropout.site = 19;
  args.dropout.sample_offset = 8;
  args.dropout.groups_total = 4 * c.a;
  args.dropout.group_offset = c.a;
  return args;
}

// ctx [B, T, a*d] = dropout(softmax(mask(q k^T / sqrt(d)))) v from qkv [B, T, a, 3, d] (the
// layer scaling 1/(sqrt(d) c) then * c cancels in exact arithmetic); probs before dropout.
// The dropout keep decisions are kernels::dropout_keep's at the element's global row
// ((sample_offset + b) * groups_total + group_offset + h) * T + i and column j.
std::vector<Vec> attention_reference(const AttnCase& c, const std::vector<Vec>& in) {
  const auto [B, T, a, d, p, flash] = c;
  const k::AttentionArgs args = attention_args(c);
  const Vec& x = in[0];
  auto at = [&](std::int64_t b, std::int64_t t, std::int64_t h, int which, std::int64_t e) {
    return x[(((b * T + t) * a + h) * 3 + which) * d + e];
  };
  Vec ctx(B * T * a * d, 0.0), probs(B * a * T * T);
  Vec s(T);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < a; ++h)
      for (std::int64_t i = 0; i < T; ++i) {
        for (std::int64_t j = 0; j < T; ++j) {
          double dot = 0;
          for (std::int64_t e = 0; e < d; ++e) dot += at(b, i, h, 0, e) * at(b, j, h, 1, e);
          s[j] = dot / std::sqrt(static_cast<double>(d));
        }
        double* pr = &probs[((b * a + h) * T + i) * T];
        masked_softmax(pr, s.data(), 1.0, in[1][b], in[2][b], i, T);
        const std::int64_t grow =
            ((args.dropout.sample_offset + b) * args.dropout.groups_total +
             args.dropout.group_offset + h) * T + i;
        for (std::int64_t j = 0; j < T; ++j) {
          double pj = pr[j];
          if (p > 0) pj = k::dropout_keep(args.dropout, p, grow, j) ? pj / (1.0 - p) : 0.0;
          if (pj == 0) continue;
          for (std::int64_t e = 0; e < d; ++e) ctx[(b * T + i) * a * d + h * d + e] += pj * at(b, j, h, 2, e);
        }
      }
  return {ctx, probs};
}

OpRow attention_row(const AttnCase& c) {
  OpRow row;
  row.inputs = {random_tensor({c.B, c.T, c.a, 3, c.d}, 7 + c.T + c.d, -2, 2)};
  for (Tensor& m : mask_inputs(c.B, c.T)) row.inputs.push_back(m);
  row.outputs = {{"ctx", kAttn, kAttn}, {"probs", kAttn, kAttn}};
  row.forward = [c](RowRun& r) {
    const auto [B, T, a, d, p, flash] = c;
    // The interface picks the CUDA path from the shape of probs ([B, a, T]: flash).
    const bool stats = flash && r.cuda();
    Tensor ctx = r.empty({B, T, a * d}), probs = r.empty(stats ? Shape{B, a, T} : Shape{B, a, T, T});
    k::attention_forward(ctx, probs, r.in[0], {r.in[1], r.in[2]}, attention_args(c));
    Out saved{probs};
    saved.saved_only = stats;  // softmax statistics, not probabilities
    return std::vector<Out>{{ctx}, saved};
  };
  row.reference = [c](const std::vector<Vec>& in) { return attention_reference(c, in); };
  row.diff = {0};
  row.loss_outputs = {0};
  row.grad_tol = row.grad_cuda_tol = kAttn;
  row.backward = [c](RowRun& r, const std::vector<Out>& f, const std::vector<Tensor>& w) {
    Tensor dqkv = r.empty(r.in[0].shape()), scratch = r.empty(f[1].t.shape());
    k::attention_backward(dqkv, scratch, w[0], f[1].t, r.in[0], {r.in[1], r.in[2]},
                          attention_args(c));
    return std::vector<Grad>{{dqkv}};
  };
  return row;
}

std::string attention_name(const AttnCase& c) {
  std::string n = std::string(c.flash ? "attention_flash" : "attention") + "_B" +
                  std::to_string(c.B) + "_T" + std::to_string(c.T) + "_a" + std::to_string(c.a) +
                  "_d" + std::to_string(c.d);
  if (c.p > 0) n += "_dropout" + std::to_string(static_cast<int>(c.p * 100 + 0.5f));
  return n;
}

std::vector<RowFactory> rows() {
  std::vector<RowFactory> r = {
      // positions up to 2047 (large angles); head dim 18 (not a multiple of 8), R = 37
      {"rope_R37_a3_d18", [] { return rope_row(37, 3, 18, 2048); }},
      {"rope_R5_a2_d2", [] { return rope_row(5, 2, 2, 7); }},
      {"attention_softmax_B4_a2_T45", [] { return softmax_row(4, 2, 45); }},
      {"attention_softmax_B4_a1_T1", [] { return softmax_row(4, 1, 1); }},
  };
  // Head dims 6, 40, 128, 200 reach every CUDA kernel instantiation; T from 13 to 150 spans
  // one to several tiles and is never a power of two.
  const AttnCase cases[] = {
      {4, 13, 2, 6, 0.f, true},    {4, 150, 3, 40, 0.f, true},  {4, 70, 2, 128, 0.f, true},
      {2, 37, 1, 200, 0.f, true},  {4, 13, 2, 6, 0.3f, true},   {4, 150, 3, 40, 0.1f, true},
      {2, 37, 1, 200, 0.2f, true}, {4, 13, 2, 6, 0.f, false},   {4, 150, 3, 40, 0.1f, false},
      {4, 33, 2, 128, 0.3f, false}};
  for (const AttnCase& c : cases) r.push_back({attention_name(c), [c] { return attention_row(c); }});
  return r;
}
GLM_OP_ROWS(rows);

}  // namespace
}  // namespace glm::ops
