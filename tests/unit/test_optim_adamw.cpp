// AdamW's fused pass against a plain double-precision reference written from the formula
// (optim/adamw.h), on layouts with odd sizes, with weight decay on matrices only, with
// inv_scale, and on sub-ranges that cut through tensors (the ZeRO-1 shard case).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "core/error.h"
#include "modeldef/param_layout.h"
#include "optim/adamw.h"
#include "core/cuda_device.h"

namespace glm::optim {
namespace {

// Master weights are stored in fp32 and rounded every step, and the fp32 update term carries
// a few ulps of its own. Parameters start in [-0.5, 0.5] and move by up to ~lr per step, so
// each step's rounding is at most 2^-24 * 0.6 = 3.6e-8 absolute; a parameter that crosses
// zero keeps that absolute error while its relative error grows. Over kSteps = 5 steps:
// 2e-7 absolute, plus 2e-6 relative (a few ulps per step, 5x margin) for the large ones.
constexpr double kParamRelTol = 2e-6;
constexpr double kParamAbsTol = 2e-7;
// m is an fp32 EMA of gradients in [-1, 1]: each step rounds (1-beta1)*g and the sum at a
// few ulps of 1 (6e-8), and m can cancel towards 0, so the bound is absolute; v has no
// cancellation (a sum of squares) and stays within a few ulps relative.
constexpr double kMomentRelTol = 1e-5;
constexpr double kMomentAbsTol = 1e-7;
constexpr int kSteps = 5;

// Odd sizes everywhere: h = 20 (3h = 60, 2f = 74), f = 37, V = 31, so spans end off the
// vector width and the 16-float alignment padding sits between parameters.
modeldef::ModelConfig odd_config(int h = 20, int f = 37, int V = 31) {
  modeldef::ModelConfig c;
  c.vocab_size = V;
  c.hidden_size = h;
  c.num_layers = 2;
  c.num_heads = 2;
  c.ffn_hidden_size = f;
  c.seq_length = 8;
  return c;
}

std::shared_ptr<const modeldef::ParamLayout> make_layout(const modeldef::ModelConfig& c) {
  return std::make_shared<const modeldef::ParamLayout>(c, modeldef::ModelShard{});
}

std::vector<float> random_vector(std::int64_t n, std::uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

Tensor tensor_of(const std::vector<float>& v) {
  Tensor t = Tensor::empty({static_cast<std::int64_t>(v.size())}, DType::f32);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

std::vector<float> values_of(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// The reference: AdamW over the whole flat buffer in double, one element at a time, the
// decay decision taken straight from each element's ParamSpec (padding never decays).
struct ReferenceAdamW {
  std::vector<double> p, m, v;
  std::vector<bool> decay;
  AdamWConfig cfg;
  int t = 0;

  ReferenceAdamW(const modeldef::ParamLayout& layout, const std::vector<float>& p0, AdamWConfig c)
      : p(p0.begin(), p0.end()),
        m(p0.size(), 0.0),
        v(p0.size(), 0.0),
        decay(p0.size(), false),
        cfg(c) {
    for (const modeldef::ParamSpec& s : layout.specs()) {
      const bool d = s.kind == modeldef::ParamKind::matrix ||
                     (s.kind == modeldef::ParamKind::embedding && c.decay_embedding);
      for (std::int64_t i = s.offset; i < s.offset + s.numel(); ++i) decay[i] = d;
    }
  }

  void step(const std::vector<float>& grad, double lr, double inv_scale) {
    ++t;
    const double b1 = cfg.beta1, b2 = cfg.beta2;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double g = static_cast<double>(grad[i]) * inv_scale;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      if (decay[i]) p[i] -= lr * cfg.weight_decay * p[i];
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + cfg.eps);
    }
  }
};

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel,
                  double abs, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (err > rel * std::abs(want[i]) + abs && ++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "]: fused " << got[i] << " vs reference " << want[i];
  }
  EXPECT_EQ(bad, 0) << what << ": elements outside tolerance";
}

TEST(AdamW, FusedPassMatchesDoubleReferenceOverSeveralSteps) {
  auto layout = make_layout(odd_config());
  const std::int64_t n = layout->total();
  AdamWConfig cfg;  // beta1 0.9, beta2 0.95, eps 1e-8, wd 0.1, matrices only
  const std::vector<float> p0 = random_vector(n, 1, -0.5f, 0.5f);
  AdamW adam(layout, cfg, tensor_of(p0));
  ReferenceAdamW ref(*layout, p0, cfg);
  for (int s = 0; s < kSteps; ++s) {
    const std::vector<float> g = random_vector(n, 100 + s, -1.f, 1.f);
    const double lr = 1e-2 * (s + 1);  // a changing lr, as the schedule gives
    adam.step(tensor_of(g), lr);
    ref.step(g, lr, 1.0);
  }
  EXPECT_EQ(adam.step_count(), kSteps);
  expect_close(values_of(adam.master()), ref.p, kParamRelTol, kParamAbsTol, "p");
  expect_close(values_of(adam.exp_avg()), ref.m, kMomentRelTol, kMomentAbsTol, "m");
  expect_close(values_of(adam.exp_avg_sq()), ref.v, kMomentRelTol, kMomentAbsTol, "v");
}

TEST(AdamW, InvScaleMatchesReferenceOnScaledGradients) {
  auto layout = make_layout(odd_config());
  const std::int64_t n = layout->total();
  AdamWConfig cfg;
  cfg.decay_embedding = true;
  const std::vector<float> p0 = random_vector(n, 2, -0.5f, 0.5f);
  AdamW adam(layout, cfg, tensor_of(p0));
  ReferenceAdamW ref(*layout, p0, cfg);
  const double inv_scale = 1.0 / 3000.0;  // not a power of two: the multiply really rounds
  for (int s = 0; s < kSteps; ++s) {
    const std::vector<float> g = random_vector(n, 200 + s, -3000.f, 3000.f);  // "scaled" grads
    adam.step(tensor_of(g), 1e-2, static_cast<float>(inv_scale));
    ref.step(g, 1e-2, static_cast<float>(inv_scale));
  }
  expect_close(values_of(adam.master()), ref.p, kParamRelTol, kParamAbsTol, "p");
  expect_close(values_of(adam.exp_avg()), ref.m, kMomentRelTol, kMomentAbsTol, "m");
}

TEST(AdamW, InvScaleByPowerOfTwoEqualsUnscaledGradientExactly) {
  auto layout = make_layout(odd_config());
  const std::int64_t n = layout->total();
  const std::vector<float> p0 = random_vector(n, 3, -0.5f, 0.5f);
  AdamW a(layout, {}, tensor_of(p0)), b(layout, {}, tensor_of(p0));
  for (int s = 0; s < kSteps; ++s) {
    std::vector<float> g = random_vector(n, 300 + s, -1.f, 1.f);
    a.step(tensor_of(g), 1e-3);
    for (float& x : g) x *= 65536.f;  // exact in fp32
    b.step(tensor_of(g), 1e-3, 1.f / 65536.f);
  }
  EXPECT_EQ(values_of(a.master()), values_of(b.master()));
  EXPECT_EQ(values_of(a.exp_avg_sq()), values_of(b.exp_avg_sq()));
}

TEST(AdamW, WeightDecayTouchesOnlyMatricesUnlessEmbeddingIsConfigured) {
  // With a zero gradient m = v = 0 and the Adam term is exactly 0, so every parameter is
  // either multiplied by (1 - lr*wd) or left bit-identical.
  auto layout = make_layout(odd_config());
  const std::int64_t n = layout->total();
  const std::vector<float> p0 = random_vector(n, 4, 0.1f, 1.f);
  const std::vector<float> zero(static_cast<std::size_t>(n), 0.f);
  const double lr = 0.5;
  for (bool decay_embedding : {false, true}) {
    AdamWConfig cfg;
    cfg.decay_embedding = decay_embedding;
    AdamW adam(layout, cfg, tensor_of(p0));
    adam.step(tensor_of(zero), lr);
    const std::vector<float> p = values_of(adam.master());
    const float keep = static_cast<float>(1.0 - lr * cfg.weight_decay);
    for (const modeldef::ParamSpec& s : layout->specs()) {
      const bool decays = s.kind == modeldef::ParamKind::matrix ||
                          (s.kind == modeldef::ParamKind::embedding && decay_embedding);
      for (std::int64_t i = s.offset; i < s.offset + s.numel(); ++i) {
        const float want = decays ? p0[i] * keep : p0[i];
        ASSERT_EQ(p[i], want) << s.name << " element " << i - s.offset
                              << " decay_embedding=" << decay_embedding;
      }
    }
  }
}

TEST(AdamW, SubRangeUpdateEqualsFullUpdateRestrictedToIt) {
  auto layout = make_layout(odd_config());
  const std::int64_t n = layout->total();
  const std::vector<float> p0 = random_vector(n, 5, -0.5f, 0.5f);
  std::vector<std::vector<float>> grads;
  for (int s = 0; s < kSteps; ++s) grads.push_back(random_vector(n, 500 + s, -1.f, 1.f));

  AdamW full(layout, {}, tensor_of(p0));
  for (const auto& g : grads) full.step(tensor_of(g), 1e-2);
  const std::vector<float> p_full = values_of(full.master());
  const std::vector<float> v_full = values_of(full.exp_avg_sq());

  // Three uneven shards whose cuts fall inside tensors, as a ZeRO-1 split would.
  const std::vector<std::int64_t> cuts = {0, n / 3 + 7, 2 * n / 3 - 5, n};
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    const modeldef::ElementRange r{cuts[k], cuts[k + 1]};
    auto slice = [&](const std::vector<float>& v) {
      return std::vector<float>(v.begin() + r.begin, v.begin() + r.end);
    };
    AdamW shard(layout, {}, r, tensor_of(slice(p0)));
    for (const auto& g : grads) shard.step(tensor_of(slice(g)), 1e-2);
    EXPECT_EQ(values_of(shard.master()), slice(p_full)) << "shard " << k;
    EXPECT_EQ(values_of(shard.exp_avg_sq()), slice(v_full)) << "shard " << k;
  }
}

TEST(AdamW, ResultDoesNotDependOnThreadCount) {
  auto layout = make_layout(odd_config(60, 101, 257));  // above the serial threshold
  const std::int64_t n = layout->total();
  ASSERT_GT(n, 1 << 15);
  const std::vector<float> p0 = random_vector(n, 6, -0.5f, 0.5f);
  const std::vector<float> g = random_vector(n, 600, -1.f, 1.f);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  AdamW one(layout, {}, tensor_of(p0));
  one.step(tensor_of(g), 1e-2);
  omp_set_num_threads(std::max(3, threads));  // 3: chunk edges differ from the 1- and 2-thread cut
  AdamW many(layout, {}, tensor_of(p0));
  many.step(tensor_of(g), 1e-2);
  omp_set_num_threads(threads);
  EXPECT_EQ(values_of(one.master()), values_of(many.master()));
}

TEST(AdamW, UpdatesTheMasterTensorItWasGivenInPlace) {
  auto layout = make_layout(odd_config());
  modeldef::FlatParams params(layout);
  std::vector<float> p0 = random_vector(layout->total(), 7, -0.5f, 0.5f);
  std::copy(p0.begin(), p0.end(), params.flat().data<float>());
  AdamW adam(layout, {}, params.flat());  // fp32 without a separate master copy
  adam.step(tensor_of(random_vector(layout->total(), 700, -1.f, 1.f)), 1e-2);
  EXPECT_EQ(adam.master().data<float>(), params.flat().data<float>());
  EXPECT_NE(params.flat().data<float>()[0], p0[0]);
}

TEST(AdamW, RestoredStateContinuesBitIdentically) {
  auto layout = make_layout(odd_config());
  const std::int64_t n = layout->total();
  AdamW a(layout, {}, tensor_of(random_vector(n, 8, -0.5f, 0.5f)));
  for (int s = 0; s < 3; ++s) a.step(tensor_of(random_vector(n, 800 + s, -1.f, 1.f)), 1e-2);
  // What a checkpoint holds: master, m, v, step.
  AdamW b(layout, {}, a.master().clone());
  b.exp_avg().copy_from(a.exp_avg());
  b.exp_avg_sq().copy_from(a.exp_avg_sq());
  b.set_step_count(a.step_count());
  const std::vector<float> g = random_vector(n, 900, -1.f, 1.f);
  a.step(tensor_of(g), 1e-2);
  b.step(tensor_of(g), 1e-2);
  EXPECT_EQ(values_of(a.master()), values_of(b.master()));
  EXPECT_EQ(b.step_count(), 4);
}

TEST(AdamW, RejectsAGradientOfTheWrongSize) {
  auto layout = make_layout(odd_config());
  AdamW adam(layout, {}, {0, 100}, Tensor::zeros({100}, DType::f32));
  EXPECT_THROW(adam.step(Tensor::zeros({101}, DType::f32), 1e-3), Error);
  EXPECT_EQ(adam.step_count(), 0);
  EXPECT_THROW(
      AdamW(layout, {}, {0, layout->total() + 1}, Tensor::zeros({layout->total() + 1}, DType::f32)),
      Error);
}

// A view of host memory labelled as CUDA device memory: never dereferenced, it lets the
// device checks run on a machine without a GPU.
Tensor labelled_cuda(std::vector<float>& host) {
  return Tensor::wrap(host.data(), {static_cast<std::int64_t>(host.size())}, DType::f32,
                      Device::cuda(0));
}

TEST(AdamW, TakesAMasterOnAnyBackendOfTheBuildAndNamesADeviceMismatch) {
  std::vector<float> host(100);
  const Tensor on_cuda = labelled_cuda(host);
  EXPECT_NO_THROW(check_range_tensor("master", Tensor::zeros({100}, DType::f32), 100,
                                     Device::cpu()));
  // A device master is what --device cuda hands the optimizer: accepted by a CUDA build.
  if (built_with_cuda()) {
    EXPECT_NO_THROW(check_range_tensor("master", on_cuda, 100, Device::cuda(0)));
  } else {
    EXPECT_THROW(check_range_tensor("master", on_cuda, 100, Device::cuda(0)), Error);
  }
  try {
    check_range_tensor("grad", on_cuda, 100, Device::cpu());
    FAIL() << "a CUDA gradient for a CPU master was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grad is f32[100] cuda:0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("on cpu"), std::string::npos) << e.what();
  }
  auto layout = make_layout(odd_config());
  AdamW adam(layout, {}, {0, 100}, Tensor::zeros({100}, DType::f32));
  EXPECT_THROW(adam.step(on_cuda, 1e-3), Error);
  EXPECT_EQ(adam.step_count(), 0);
}

TEST(ParamRange, PiecesCoverExactlyTheParametersInsideTheRange) {
  auto layout = make_layout(odd_config());
  const modeldef::ParamSpec& qkv = layout->spec("layers.0.attention.query_key_value.weight");
  const modeldef::ElementRange r{qkv.offset + 5, qkv.offset + qkv.numel() + 40};
  const std::vector<modeldef::ParamPiece> pieces = modeldef::pieces_in_range(*layout, r);
  ASSERT_GE(pieces.size(), 2u);
  EXPECT_EQ(layout->specs()[pieces[0].spec_index].name, qkv.name);
  EXPECT_EQ(pieces[0].in_param, 5);
  EXPECT_EQ(pieces[0].local_begin, 0);
  EXPECT_EQ(pieces[0].flat.end, qkv.offset + qkv.numel());
  EXPECT_EQ(layout->specs()[pieces[1].spec_index].name, "layers.0.attention.query_key_value.bias");
  EXPECT_EQ(pieces[1].in_param, 0);
  EXPECT_EQ(pieces.back().flat.end, r.end);
}

}  // namespace
}  // namespace glm::optim
