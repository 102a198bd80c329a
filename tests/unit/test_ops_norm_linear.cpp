// Op harness rows (op_harness.h) of LayerNorm, the DeepNorm residual, the linear layer and
// GeGLU, each with an fp64 reference written here as plain loops.
#include <cmath>

#include "core/half.h"
#include "kernels/geglu.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "op_harness.h"
#include "tests/test_util.h"

namespace glm::ops {
namespace {

namespace k = kernels;
using test::random_tensor;

constexpr float kEps = 1e-5f;

// y = (x - mean) * rstd * gamma + beta per row of [R, h]; outputs {y, mean, rstd}.
std::vector<Vec> ln_reference(const Vec& x, const Vec& gamma, const Vec& beta, std::int64_t R,
                              std::int64_t h) {
  Vec y(R * h), mean(R), rstd(R);
  for (std::int64_t r = 0; r < R; ++r) {
    double m = 0, v = 0;
    for (std::int64_t j = 0; j < h; ++j) m += x[r * h + j];
    m /= h;
    for (std::int64_t j = 0; j < h; ++j) v += (x[r * h + j] - m) * (x[r * h + j] - m);
    const double rs = 1 / std::sqrt(v / h + kEps);
    for (std::int64_t j = 0; j < h; ++j) y[r * h + j] = (x[r * h + j] - m) * rs * gamma[j] + beta[j];
    mean[r] = m;
    rstd[r] = rs;
  }
  return {y, mean, rstd};
}

// LayerNorm forward and backward. With dres the backward's upstream gradient is
// dy + alpha_res * dres: the row then also returns y as a second loss output whose cotangent
// is alpha_res * dres (rounded to fp32), so L = w.y + (alpha_res dres).y has that gradient.
OpRow layernorm_row(std::int64_t R, std::int64_t h, bool with_res) {
  constexpr float kAlphaRes = 2.5f;
  OpRow row;
  // x, gamma, beta; dgamma and dbeta start nonzero (the += contract); dres
  row.inputs = {random_tensor({R, h}, 1, -3, 3), random_tensor({h}, 2, 0.5f, 1.5f),
                random_tensor({h}, 3),           random_tensor({h}, 6),
                random_tensor({h}, 7),           random_tensor({R, h}, 5)};
  row.outputs = {{"y"}, {"mean"}, {"rstd"}};
  if (with_res) row.outputs.push_back({"y (residual branch)"});
  row.forward = [R, h, with_res](RowRun& r) {
    Tensor y = r.empty({R, h}), mean = r.empty({R}), rstd = r.empty({R});
    k::layernorm_forward(y, mean, rstd, r.in[0], r.in[1], r.in[2], kEps);
    std::vector<Out> o = {{y}, {mean}, {rstd}};
    if (with_res) o.push_back({y});
    return o;
  };
  row.reference = [R, h, with_res](const std::vector<Vec>& in) {
    auto o = ln_reference(in[0], in[1], in[2], R, h);
    if (with_res) o.push_back(o[0]);
    return o;
  };
  row.diff = {0, 1, 2};
  row.loss_outputs = with_res ? std::vector<int>{0, 3} : std::vector<int>{0};
  const Tensor dres = row.inputs[5];
  row.cotangent = [dres](int k, const Shape& s) {
    if (k == 0) return random_tensor(s, 7001);
    Tensor w = Tensor::empty(s, DType::f32);
    for (std::int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = kAlphaRes * dres.data<float>()[i];
    return w;
  };
  const Tensor dg0 = row.inputs[3], db0 = row.inputs[4];
  row.backward = [R, h, with_res, dg0, db0](RowRun& r, const std::vector<Out>& f,
                                             const std::vector<Tensor>& w) {
    Tensor dx = r.empty({R, h}), dg = r.put(dg0), db = r.put(db0);
    k::layernorm_backward(dx, dg, db, w[0], with_res ? &r.in[5] : nullptr, kAlphaRes, r.in[0],
                          f[1].t, f[2].t, r.in[1]);
    return std::vector<Grad>{{dx}, {dg, dg0}, {db, db0}};
  };
  return row;
}

// s = alpha * a + f; y = LN(s): outputs {s, y, mean, rstd} (forward only: the model's
// backward of the residual is layernorm_backward with dres, the rows above).
OpRow residual_layernorm_row(std::int64_t R, std::int64_t h) {
  constexpr float kAlpha = 3.7f;
  OpRow row;
  row.inputs = {random_tensor({R, h}, 11), random_tensor({R, h}, 12), random_tensor({h}, 13),
                random_tensor({h}, 14)};
  row.outputs = {{"s"}, {"y"}, {"mean"}, {"rstd"}};
  row.forward = [R, h](RowRun& r) {
    Tensor s = r.empty({R, h}), y = r.empty({R, h}), mean = r.empty({R}), rstd = r.empty({R});
    k::residual_layernorm_forward(s, y, mean, rstd, r.in[0], r.in[1], kAlpha, r.in[2], r.in[3],
                                  kEps);
    return std::vector<Out>{{s}, {y}, {mean}, {rstd}};
  };
  row.reference = [R, h](const std::vector<Vec>& in) {
    // s as the kernel stores it: fp32 (the LN below reads the stored s).
    Vec s(R * h);
    for (std::int64_t i = 0; i < R * h; ++i)
      s[i] = static_cast<float>(static_cast<double>(kAlpha) * in[0][i] + in[1][i]);
    auto o = ln_reference(s, in[2], in[3], R, h);
    return std::vector<Vec>{s, o[0], o[1], o[2]};
  };
  return row;
}

// y [R, out] = x W^T + b; backward dx (= or +=), dW +=, db +=.
OpRow linear_row(std::int64_t R, std::int64_t in, std::int64_t out, bool bias, bool acc_dx) {
  OpRow row;
  // x, W, b; dx, dW, db starts
  row.inputs = {random_tensor({R, in}, 21), random_tensor({out, in}, 22),
                random_tensor({out}, 23), random_tensor({R, in}, 25), random_tensor({out, in}, 26),
                random_tensor({out}, 27)};
  row.outputs = {{"y"}};
  row.forward = [R, out, bias](RowRun& r) {
    Tensor y = r.empty({R, out});
    k::linear_forward(y, r.in[0], r.in[1], bias ? &r.in[2] : nullptr);
    return std::vector<Out>{{y}};
  };
  row.reference = [R, in, out, bias](const std::vector<Vec>& v) {
    Vec y(R * out);
    for (std::int64_t i = 0; i < R; ++i)
      for (std::int64_t o = 0; o < out; ++o) {
        double s = bias ? v[2][o] : 0;
        for (std::int64_t j = 0; j < in; ++j) s += v[0][i * in + j] * v[1][o * in + j];
        y[i * out + o] = s;
      }
    return std::vector<Vec>{y};
  };
  row.diff = bias ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 1};
  row.loss_outputs = {0};
  const Tensor dx0 = row.inputs[3], dW0 = row.inputs[4], db0 = row.inputs[5];
  row.backward = [R, in, bias, acc_dx, dx0, dW0, db0](RowRun& r, const std::vector<Out>&,
                                                           const std::vector<Tensor>& w) {
    Tensor dx = acc_dx ? r.put(dx0) : r.empty({R, in}), dW = r.put(dW0), db = r.put(db0);
    k::linear_backward(&dx, dW, bias ? &db : nullptr, w[0], r.in[0], r.in[1], acc_dx);
    std::vector<Grad> g = {{dx, acc_dx ? dx0 : Tensor()}, {dW, dW0}};
    if (bias) g.push_back({db, db0});
    return g;
  };
  return row;
}

// y [R, out] += b on every row.
OpRow add_bias_row(std::int64_t R, std::int64_t out) {
  OpRow row;
  row.inputs = {random_tensor({R, out}, 31), random_tensor({out}, 32)};
  row.outputs = {{"y", kF32, kBitEqual}};  // one fp32 add per element
  row.forward = [](RowRun& r) {
    Tensor y = r.in[0].clone();
    k::add_bias(y, r.in[1]);
    return std::vector<Out>{{y}};
  };
  row.reference = [R, out](const std::vector<Vec>& v) {
    Vec y(R * out);
    for (std::int64_t i = 0; i < R * out; ++i) y[i] = v[0][i] + v[1][i % out];
    return std::vector<Vec>{y};
  };
  return row;
}

double gelu(double z) {
  return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
}

// g [R, f] = u[:, :f] * GELU(u[:, f:]); backward du = d/du (w . g). u spans [-12, 12] so the
// saturated tails of tanh are covered.
OpRow geglu_row(std::int64_t R, std::int64_t f) {
  OpRow row;
  row.inputs = {random_tensor({R, 2 * f}, 51, -12, 12)};
  row.outputs = {{"g"}};
  row.forward = [R, f](RowRun& r) {
    Tensor g = r.empty({R, f});
    k::geglu_forward(g, r.in[0]);
    return std::vector<Out>{{g}};
  };
  row.reference = [R, f](const std::vector<Vec>& v) {
    Vec g(R * f);
    for (std::int64_t i = 0; i < R; ++i)
      for (std::int64_t j = 0; j < f; ++j)
        g[i * f + j] = v[0][i * 2 * f + j] * gelu(v[0][i * 2 * f + f + j]);
    return std::vector<Vec>{g};
  };
  row.diff = {0};
  row.loss_outputs = {0};
  row.backward = [R, f](RowRun& r, const std::vector<Out>&, const std::vector<Tensor>& w) {
    Tensor du = r.empty({R, 2 * f});
    k::geglu_backward(du, w[0], r.in[0]);
    return std::vector<Grad>{{du}};
  };
  return row;
}

std::vector<RowFactory> rows() {
  return {
      // R = 37, h = 203: rows and width not multiples of 8/16/32; R = 1, h = 5: one short row.
      {"layernorm_R37_h203", [] { return layernorm_row(37, 203, false); }},
      {"layernorm_R1_h5", [] { return layernorm_row(1, 5, false); }},
      {"layernorm_dres_R37_h203", [] { return layernorm_row(37, 203, true); }},
      {"residual_layernorm_R37_h203", [] { return residual_layernorm_row(37, 203); }},
      {"linear_R37_in45_out67", [] { return linear_row(37, 45, 67, true, false); }},
      {"linear_acc_dx_R37_in45_out67", [] { return linear_row(37, 45, 67, true, true); }},
      {"linear_nobias_R3_in17_out5", [] { return linear_row(3, 17, 5, false, false); }},
      {"linear_R45_in96_out70", [] { return linear_row(45, 96, 70, true, false); }},
      {"linear_acc_dx_R19_in72_out40", [] { return linear_row(19, 72, 40, true, true); }},
      {"add_bias_R37_out67", [] { return add_bias_row(37, 67); }},
      {"add_bias_R29_out51", [] { return add_bias_row(29, 51); }},
      {"geglu_R37_f77", [] { return geglu_row(37, 77); }},
      {"geglu_R2_f3", [] { return geglu_row(2, 3); }},
  };
}
GLM_OP_ROWS(rows);

}  // namespace
}  // namespace glm::ops
