// Op harness rows (op_harness.h) of dropout, the elementwise ops and reductions, the row
// gather/scatter, the embedding and both cross-entropies, each with an fp64 reference
// written here as plain loops; and the argument checks every backend must make.
#include <cmath>

#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "op_harness.h"
#include "tests/test_util.h"

namespace glm::ops {
namespace {

namespace k = kernels;
using test::i32_tensor;
using test::random_tensor;

// Element (b, g, i, c) of x viewed as [B, G, I, C] is kept iff kernels::dropout_keep says so
// at global row ((sample_offset + b) * groups_total + group_offset + g) * I + i.
OpRow dropout_row() {
  constexpr std::int64_t B = 4, G = 3, I = 5, C = 33;  // C odd
  constexpr float kP = 0.3f;
  k::DropoutSite site;
  site.seed = 1234;
  site.step = 17;
  site.site = 42;
  site.sample_offset = 6;
  site.groups_total = 12;
  site.group_offset = 3;
  OpRow row;
  row.inputs = {random_tensor({B, G * I, C}, 91)};
  row.outputs = {{"y", kF32, kBitEqual}};
  row.forward = [site](RowRun& r) {
    Tensor y = r.in[0].clone();
    k::dropout_apply(y, kP, site, G);
    return std::vector<Out>{{y}};
  };
  row.reference = [site](const std::vector<Vec>& in) {
    Vec y(in[0].size());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t g = 0; g < G; ++g)
        for (std::int64_t i = 0; i < I; ++i)
          for (std::int64_t c = 0; c < C; ++c) {
            const std::int64_t e = ((b * G + g) * I + i) * C + c;
            const std::int64_t grow =
                ((site.sample_offset + b) * site.groups_total + site.group_offset + g) * I + i;
            y[e] = k::dropout_keep(site, kP, grow, c) ? in[0][e] / (1.0 - kP) : 0.0;
          }
    return std::vector<Vec>{y};
  };
  row.diff = {0};
  row.loss_outputs = {0};
  row.grad_cuda_tol = kBitEqual;
  row.backward = [site](RowRun&, const std::vector<Out>&, const std::vector<Tensor>& w) {
    Tensor d = w[0].clone();  // the same op: the mask is recomputed, never stored
    k::dropout_apply(d, kP, site, G);
    return std::vector<Grad>{{d}};
  };
  return row;
}

constexpr std::int64_t kN = 100003;  // not a multiple of any vector width or block size

// y = alpha * a + b;  y0 + beta * a (axpy);  y0 * gamma (scale)
OpRow pointwise_row() {
  constexpr float kAlpha = 1.7f, kBeta = -0.3f, kGamma = 0.9f;
  OpRow row;
  row.inputs = {random_tensor({kN}, 101), random_tensor({kN}, 102), random_tensor({kN}, 103)};
  row.outputs = {{"scaled_add"}, {"axpy"}, {"scale"}};
  row.forward = [](RowRun& r) {
    Tensor y = r.empty({kN}), z = r.in[2].clone(), s = r.in[2].clone();
    k::scaled_add(y, kAlpha, r.in[0], r.in[1]);
    k::axpy(z, kBeta, r.in[0]);
    k::scale(s, kGamma);
    return std::vector<Out>{{y}, {z}, {s}};
  };
  row.reference = [](const std::vector<Vec>& in) {
    Vec y(kN), z(kN), s(kN);
    for (std::int64_t i = 0; i < kN; ++i) {
      y[i] = double(kAlpha) * in[0][i] + in[1][i];
      z[i] = in[2][i] + double(kBeta) * in[0][i];
      s[i] = in[2][i] * double(kGamma);
    }
    return std::vector<Vec>{y, z, s};
  };
  return row;
}

// sum x^2 (accumulated in fp64 by contract) and all_finite on clean data and with +inf, -inf
// or NaN near the end.
OpRow reductions_row() {
  // fp64 sums of 1e5 squares in different orders: fp64 rounding ~1e-16 * n relative.
  constexpr Tol kFp64Sum{1e-9, 0};
  OpRow row;
  row.inputs = {random_tensor({kN}, 104)};
  for (const float bad : {INFINITY, -INFINITY, NAN}) {
    Tensor t = row.inputs[0].clone();
    t.data<float>()[kN - 2] = bad;
    row.inputs.push_back(t);
  }
  row.outputs = {{"sum_squares", kFp64Sum, kFp64Sum},
                 {"all_finite", {}, {}, true},
                 {"all_finite with inf", {}, {}, true},
                 {"all_finite with -inf", {}, {}, true},
                 {"all_finite with nan", {}, {}, true}};
  row.forward = [](RowRun& r) {
    std::vector<Out> o;
    o.push_back({Tensor(), {k::sum_squares(r.in[0])}});
    for (int i = 0; i < 4; ++i) o.push_back({Tensor(), {k::all_finite(r.in[i]) ? 1.0 : 0.0}});
    return o;
  };
  row.reference = [](const std::vector<Vec>& in) {
    double s = 0;
    for (double x : in[0]) s += x * x;
    std::vector<Vec> o = {{s}};
    for (int i = 0; i < 4; ++i) {
      bool finite = true;
      for (double x : in[i]) finite = finite && std::isfinite(x);
      o.push_back({finite ? 1.0 : 0.0});
    }
    return o;
  };
  return row;
}

constexpr std::int64_t kSrcRows = 13, kRowWidth = 40;
const std::vector<std::int32_t> kIndex = {3, 0, 3, 12, 7};  // repeated and last indices

// out[r] = src[index[r]]; backward: dsrc[index[r]] += dout[r] (scatter_add_rows).
OpRow gather_row() {
  const auto n = static_cast<std::int64_t>(kIndex.size());
  OpRow row;
  row.inputs = {random_tensor({kSrcRows, kRowWidth}, 103), i32_tensor(kIndex)};
  row.outputs = {{"out", {}, kBitEqual, true}};
  row.forward = [n](RowRun& r) {
    Tensor out = r.empty({n, kRowWidth});
    k::gather_rows(out, r.in[0], r.in[1]);
    return std::vector<Out>{{out}};
  };
  row.reference = [n](const std::vector<Vec>& in) {
    Vec out(n * kRowWidth);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < kRowWidth; ++j)
        out[i * kRowWidth + j] = in[0][static_cast<std::int64_t>(in[1][i]) * kRowWidth + j];
    return std::vector<Vec>{out};
  };
  row.diff = {0};
  row.loss_outputs = {0};
  row.backward = [](RowRun& r, const std::vector<Out>&, const std::vector<Tensor>& w) {
    Tensor dsrc = r.zeros({kSrcRows, kRowWidth});
    k::scatter_add_rows(dsrc, w[0], r.in[1]);
    return std::vector<Grad>{{dsrc}};
  };
  return row;
}

// dst[index[r]] += src[r] with repeated indices.
OpRow scatter_row() {
  const auto n = static_cast<std::int64_t>(kIndex.size());
  OpRow row;
  row.inputs = {random_tensor({kSrcRows, kRowWidth}, 104), random_tensor({n, kRowWidth}, 105),
                i32_tensor(kIndex)};
  row.outputs = {{"dst"}};
  row.forward = [](RowRun& r) {
    Tensor dst = r.in[0].clone();
    k::scatter_add_rows(dst, r.in[1], r.in[2]);
    return std::vector<Out>{{dst}};
  };
  row.reference = [n](const std::vector<Vec>& in) {
    Vec dst = in[0];
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < kRowWidth; ++j)
        dst[static_cast<std::int64_t>(in[2][i]) * kRowWidth + j] += in[1][i * kRowWidth + j];
    return std::vector<Vec>{dst};
  };
  return row;
}

// A vocabulary shard [11, 40) of 64 ids: tokens outside it give zero rows; token 20 repeats
// (the backward sums in row order). Backward with EGS alpha 0.1 from a nonzero dtable (+=).
OpRow embedding_row() {
  constexpr std::int64_t R = 37, V = 29, h = 70, kStart = 11, kTotal = 64;
  constexpr float kAlpha = 0.1f;
  std::vector<std::int32_t> tok(R);
  for (std::int64_t r = 0; r < R; ++r) tok[r] = static_cast<std::int32_t>((r * 7) % kTotal);
  tok[3] = tok[5] = 20;
  OpRow row;
  row.inputs = {i32_tensor(tok), random_tensor({V, h}, 71), random_tensor({V, h}, 73)};
  row.outputs = {{"x", {}, kBitEqual, true}};
  row.forward = [](RowRun& r) {
    Tensor x = r.empty({R, h});
    k::embedding_forward(x, r.in[0], r.in[1], kStart, kTotal);
    return std::vector<Out>{{x}};
  };
  row.reference = [](const std::vector<Vec>& in) {
    Vec x(R * h, 0.0);
    for (std::int64_t r = 0; r < R; ++r) {
      const auto t = static_cast<std::int64_t>(in[0][r]) - kStart;
      if (t < 0 || t >= V) continue;
      for (std::int64_t j = 0; j < h; ++j) x[r * h + j] = in[1][t * h + j];
    }
    return std::vector<Vec>{x};
  };
  row.diff = {1};
  row.loss_outputs = {0};
  const Tensor dtable0 = row.inputs[2];
  row.backward = [dtable0](RowRun& r, const std::vector<Out>&, const std::vector<Tensor>& w) {
    Tensor dtable = r.put(dtable0);
    k::embedding_backward(dtable, w[0], r.in[0], kAlpha, kStart);
    return std::vector<Grad>{{dtable, dtable0, kAlpha}};
  };
  return row;
}

// Targets (r * 97) % V with one ignored row (-1); logits in [-8, 8].
std::vector<Tensor> ce_inputs(std::int64_t R, std::int64_t V) {
  std::vector<std::int32_t> tg(R);
  for (std::int64_t r = 0; r < R; ++r) tg[r] = static_cast<std::int32_t>((r * 97) % V);
  tg[R > 4 ? 4 : 0] = -1;
  return {random_tensor({R, V}, 81, -8, 8), i32_tensor(tg)};
}

// loss[r] = logsumexp(logits[r]) - logits[r, t] (0 for an ignored row).
Vec ce_losses(const Vec& logits, const Vec& targets, std::int64_t R, std::int64_t V) {
  Vec loss(R, 0.0);
  for (std::int64_t r = 0; r < R; ++r) {
    if (targets[r] < 0) continue;
    double m = -INFINITY, s = 0;
    for (std::int64_t j = 0; j < V; ++j) m = std::max(m, logits[r * V + j]);
    for (std::int64_t j = 0; j < V; ++j) s += std::exp(logits[r * V + j] - m);
    loss[r] = std::log(s) + m - logits[r * V + static_cast<std::int64_t>(targets[r])];
  }
  return loss;
}

// The gradient the op writes is grad_scale * d(sum of losses)/dlogits: the cotangent of the
// losses is grad_scale everywhere.
constexpr float kGradScale = 0.25f;
Tensor grad_scale_cotangent(int, const Shape& s) {
  Tensor w = Tensor::empty(s, DType::f32);
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = kGradScale;
  return w;
}

OpRow cross_entropy_row(std::int64_t R, std::int64_t V) {
  OpRow row;
  row.inputs = ce_inputs(R, V);
  row.outputs = {{"losses"}, {"logits untouched without write_grad", {}, {}, true}};
  row.forward = [R](RowRun& r) {
    Tensor loss = r.empty({R}), logits = r.in[0].clone();
    k::softmax_cross_entropy(loss, logits, r.in[1], kGradScale, false);
    return std::vector<Out>{{loss}, {logits}};
  };
  row.reference = [R, V](const std::vector<Vec>& in) {
    return std::vector<Vec>{ce_losses(in[0], in[1], R, V), in[0]};
  };
  row.diff = {0};
  row.loss_outputs = {0};
  row.cotangent = grad_scale_cotangent;
  row.backward = [R](RowRun& r, const std::vector<Out>&, const std::vector<Tensor>&) {
    Tensor loss = r.empty({R}), logits = r.in[0].clone();
    k::softmax_cross_entropy(loss, logits, r.in[1], kGradScale, true);
    return std::vector<Grad>{{logits}};
  };
  return row;
}

// The vocab-parallel cross-entropy's three passes on one shard holding ids [start, start+V),
// the combination over ranks between them being the identity (one shard): with start 0 and
// every target inside, the plain cross-entropy; otherwise the shard's own pieces, a target
// in another shard contributing no target logit.
OpRow sharded_ce_row(std::int64_t R, std::int64_t V, std::int64_t start,
                     std::vector<Tensor> inputs) {
  OpRow row;
  row.inputs = std::move(inputs);
  row.outputs = {{"row_max", {}, kBitEqual, true},
                 {"partials"},
                 {"losses"},
                 {"logits untouched without write_grad", {}, {}, true}};
  auto run = [R, start](RowRun& r, bool write_grad) {
    Tensor row_max = r.empty({R}), partials = r.empty({R, 2}), loss = r.empty({R});
    Tensor logits = r.in[0].clone();
    k::sharded_ce_row_max(row_max, logits);
    k::sharded_ce_partials(partials, logits, r.in[1], row_max, start);
    k::sharded_ce_finish(loss, logits, r.in[1], row_max, partials, start, kGradScale,
                         write_grad);
    return std::vector<Tensor>{row_max, partials, loss, logits};
  };
  row.forward = [run](RowRun& r) {
    auto t = run(r, false);
    return std::vector<Out>{{t[0]}, {t[1]}, {t[2]}, {t[3]}};
  };
  row.reference = [R, V, start](const std::vector<Vec>& in) {
    Vec row_max(R), partials(R * 2), loss(R, 0.0);
    for (std::int64_t r = 0; r < R; ++r) {
      double m = -INFINITY, s = 0;
      for (std::int64_t j = 0; j < V; ++j) m = std::max(m, in[0][r * V + j]);
      for (std::int64_t j = 0; j < V; ++j) s += std::exp(in[0][r * V + j] - m);
      const auto local = static_cast<std::int64_t>(in[1][r]) - start;
      const bool ignored = in[1][r] < 0, here = !ignored && local >= 0 && local < V;
      row_max[r] = m;
      partials[2 * r] = ignored ? 0 : s;  // an ignored row contributes nothing
      partials[2 * r + 1] = here ? in[0][r * V + local] : 0;
      if (!ignored) loss[r] = std::log(s) + m - partials[2 * r + 1];
    }
    return std::vector<Vec>{row_max, partials, loss, in[0]};
  };
  row.diff = {0};
  row.loss_outputs = {2};
  row.cotangent = grad_scale_cotangent;
  row.backward = [run](RowRun& r, const std::vector<Out>&, const std::vector<Tensor>&) {
    return std::vector<Grad>{{run(r, true)[3]}};
  };
  return row;
}

std::vector<RowFactory> rows() {
  return {
      {"dropout_B4_G3_I5_C33", [] { return dropout_row(); }},
      {"scaled_add_axpy_scale_n100003", [] { return pointwise_row(); }},
      {"sum_squares_all_finite_n100003", [] { return reductions_row(); }},
      {"gather_rows_13x40", [] { return gather_row(); }},
      {"scatter_add_rows_13x40", [] { return scatter_row(); }},
      {"embedding_R37_V29_h70_shard11", [] { return embedding_row(); }},
      {"cross_entropy_R37_V1031", [] { return cross_entropy_row(37, 1031); }},
      {"cross_entropy_R3_V2", [] { return cross_entropy_row(3, 2); }},
      {"sharded_cross_entropy_R37_V1031", [] { return sharded_ce_row(37, 1031, 0, ce_inputs(37, 1031)); }},
      {"sharded_cross_entropy_shard100_R19_V77",
       [] {
         constexpr std::int64_t R = 19, V = 77, start = 100;
         std::vector<std::int32_t> t(R);
         for (std::int64_t r = 0; r < R; ++r)  // in the shard, in another shard, or ignored
           t[r] = r % 5 == 0 ? -1 : r % 3 == 0 ? 7 : static_cast<std::int32_t>(start + (r * 13) % V);
         return sharded_ce_row(R, V, start, {random_tensor({R, V}, 3, -4, 4), i32_tensor(t)});
       }},
  };
}
GLM_OP_ROWS(rows);

std::vector<ErrorRowFactory> error_rows() {
  return {
      {"embedding_token_out_of_range",
       [] {
         std::vector<std::int32_t> tok(37, 12);
         tok[9] = 64;
         ErrorRow e;
         e.inputs = {i32_tensor(tok), random_tensor({29, 70}, 71)};
         e.call = [](RowRun& r) {
           Tensor x = r.empty({37, 70});
           k::embedding_forward(x, r.in[0], r.in[1], 11, 64);
         };
         e.message = "token 64 at row 9";
         return e;
       }},
      {"cross_entropy_target_out_of_range",
       [] {
         ErrorRow e;
         e.inputs = ce_inputs(37, 1031);
         e.inputs[1].data<std::int32_t>()[6] = 1031;
         e.call = [](RowRun& r) {
           Tensor loss = r.empty({37}), logits = r.in[0].clone();
           k::softmax_cross_entropy(loss, logits, r.in[1], 1.f, false);
         };
         e.message = "target 1031 at row 6";
         return e;
       }},
      {"gather_rows_index_out_of_range",
       [] {
         ErrorRow e;
         e.inputs = {random_tensor({kSrcRows, kRowWidth}, 103), i32_tensor({0, 1, 2, 13, 4})};
         e.call = [](RowRun& r) {
           Tensor out = r.empty({5, kRowWidth});
           k::gather_rows(out, r.in[0], r.in[1]);
         };
         e.message = "index 13 at row 3";
         e.input_error = false;
         return e;
       }},
  };
}
GLM_OP_ERROR_ROWS(error_rows);

}  // namespace
}  // namespace glm::ops
