// Invariant 1 (docs/design.md section 9): the model's backward matches central finite
// differences, for one layer on its own and for the whole model (embedding with gradient
// shrink, layers, final LN, tied head, loss on target positions), with and without dropout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "kernels/elementwise.h"
#include "model/glm_layer.h"
#include "model/glm_model.h"
#include "model_test_util.h"

namespace glm::model {
namespace {

using glm::testing::fill_uniform;
using glm::testing::glm_batch;
using glm::testing::tiny_config;

// Central differences in fp32 with eps = 1e-3 carry a round-off error of about
// 1e-7 * |L| / eps ~ 1e-4 absolute; truncation is O(eps^2). A wrong backward term is off
// by O(1) relative, far outside these bounds.
constexpr double kEps = 1e-3;
constexpr double kRelTol = 2e-2;
constexpr double kAbsTol = 1e-3;

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += double(a.data<float>()[i]) * b.data<float>()[i];
  return s;
}

// Directional derivative of f along dir, perturbing x in place (restored afterwards).
double central_difference(Tensor& x, const Tensor& dir, const std::function<double()>& f) {
  Tensor saved = x.clone();
  kernels::axpy(x, static_cast<float>(kEps), dir);
  double up = f();
  x.copy_from(saved);
  kernels::axpy(x, static_cast<float>(-kEps), dir);
  double down = f();
  x.copy_from(saved);
  return (up - down) / (2 * kEps);
}

void expect_close(double analytic, double numeric, const std::string& what) {
  EXPECT_NEAR(analytic, numeric, kRelTol * std::max(std::abs(analytic), std::abs(numeric)) + kAbsTol)
      << what << ": analytic " << analytic << " vs finite difference " << numeric;
}

// Perturbs every parameter so LN gains, biases and all matrices carry signal.
void randomize(GLMModel& m, std::uint64_t seed) {
  m.init();
  Tensor noise = Tensor::empty(m.params().flat().shape(), DType::f32);
  fill_uniform(noise, seed, -0.2f, 0.2f);
  kernels::axpy(m.params().flat(), 1.f, noise);
}

void check_model(modeldef::ModelConfig c, bool gmask, std::uint64_t seed) {
  // EGS deliberately passes only alpha_e of the input-path gradient to E, so the true
  // derivative is compared at alpha_e = 1; the shrink itself has its own test below.
  c.embedding_grad_shrink = 1.0;
  GLMModel m(c, {.seed = seed});
  randomize(m, seed);
  modeldef::Batch batch = glm_batch(2, 12, c.vocab_size, gmask, seed);
  const bool dropout = c.hidden_dropout > 0 || c.attention_dropout > 0;
  StepOptions opt{.loss_scale = 1.f, .num_targets = 0, .step = 5, .training = dropout};

  m.zero_grads();
  m.forward_backward(batch, opt);
  Tensor grads = m.grads().flat().clone();
  // With dropout the objective must see the same masks: evaluate through the training
  // path (same step), ignoring the gradients it accumulates.
  auto loss = [&] {
    LossStats s = dropout ? m.forward_backward(batch, opt) : m.forward_loss(batch);
    return s.loss_sum / static_cast<double>(s.num_targets);
  };
  const auto& layout = m.layout();
  for (std::size_t i = 0; i < layout.specs().size(); ++i) {
    const modeldef::ParamSpec& s = layout.specs()[i];
    Tensor p = m.params().at(static_cast<int>(i));
    Tensor g = grads.slice(0, s.offset, s.offset + s.numel()).view(s.shape);
    Tensor dir = Tensor::empty(s.shape, DType::f32);
    fill_uniform(dir, seed * 131 + i, -1.f, 1.f);
    expect_close(dot(g, dir), central_difference(p, dir, loss), s.name);
  }
}

TEST(GLMModel, BackwardMatchesFiniteDifferencesGMask) { check_model(tiny_config(2), true, 11); }

TEST(GLMModel, BackwardMatchesFiniteDifferencesMask) { check_model(tiny_config(2), false, 12); }

TEST(GLMModel, BackwardMatchesFiniteDifferencesWithDropout) {
  modeldef::ModelConfig c = tiny_config(2);
  c.hidden_dropout = 0.1;
  c.attention_dropout = 0.1;
  check_model(c, true, 13);
}

TEST(GLMModel, EmbeddingGradientShrinkScalesOnlyTheInputPath) {
  // With alpha_e = 0 only the tied head contributes to dE; with 1 both paths do. The
  // difference is exactly the input-path gradient, which alpha_e = 0.5 halves.
  modeldef::ModelConfig c = tiny_config(1);
  modeldef::Batch batch = glm_batch(2, 12, c.vocab_size, true, 3);
  auto dE = [&](double alpha) {
    c.embedding_grad_shrink = alpha;
    GLMModel m(c, {.seed = 3});
    randomize(m, 3);
    m.zero_grads();
    m.forward_backward(batch, {.training = false});
    return m.grads().embedding().clone();
  };
  Tensor g0 = dE(0.0), g1 = dE(1.0), gh = dE(0.5);
  double max_input_path = 0;
  for (std::int64_t i = 0; i < g0.numel(); ++i) {
    double in = g1.data<float>()[i] - g0.data<float>()[i];
    max_input_path = std::max(max_input_path, std::abs(in));
    EXPECT_NEAR(gh.data<float>()[i], g0.data<float>()[i] + 0.5 * in, 1e-6);
  }
  EXPECT_GT(max_input_path, 1e-4);  // the input path does carry gradient
}

void check_layer(modeldef::LayerNormPlacement placement) {
  modeldef::ModelConfig c = tiny_config(3);
  c.hidden_dropout = 0.2;
  c.attention_dropout = 0.2;
  c.layernorm = placement;
  const int B = 2, T = 7;
  const std::int64_t R = B * T;
  GLMModel holder(c, {.seed = 5});  // owns a parameter buffer laid out for the layers
  randomize(holder, 5);
  GLMLayer layer(c, modeldef::ModelShard{}, 1);  // layer 1: query-key scaling c = 2
  modeldef::LayerParams w = holder.params().layer(1);
  holder.zero_grads();
  modeldef::LayerParams gw = holder.grads().layer(1);

  modeldef::Batch b = glm_batch(B, T, c.vocab_size, true, 5);
  kernels::AttentionMask mask{b.prefix_len, b.valid_len};
  Tensor positions = b.positions.view({R});
  LayerContext ctx{B, T, &mask, &positions, true, 77, 2, 0};
  LayerActivations acts = LayerActivations::allocate(c, modeldef::ModelShard{}, B, T);
  LayerScratch scratch = LayerScratch::allocate(c, modeldef::ModelShard{}, B, T);

  Tensor x = Tensor::empty({R, c.hidden_size}, DType::f32), out = x.clone(), dx = x.clone();
  Tensor proj = x.clone();  // L = sum(proj * out)
  fill_uniform(x, 1, -1.f, 1.f);
  fill_uniform(proj, 2, -1.f, 1.f);
  auto objective = [&] {
    layer.forward(out, acts, scratch, x, LayerWeights::of(w), ctx);
    return dot(out, proj);
  };
  objective();
  layer.backward(dx, scratch, proj, x, acts, w, gw, ctx);

  Tensor dir = x.clone();
  fill_uniform(dir, 3, -1.f, 1.f);
  expect_close(dot(dx, dir), central_difference(x, dir, objective), "dx");
  // Every parameter of layer 1, whatever the placement adds (sandwich: two more LNs).
  const auto& specs = holder.layout().specs();
  int checked = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].layer != 1) continue;
    Tensor p = holder.params().at(static_cast<int>(i));
    Tensor d = Tensor::empty(p.shape(), DType::f32);
    fill_uniform(d, 10 + i, -1.f, 1.f);
    expect_close(dot(holder.grads().at(static_cast<int>(i)), d), central_difference(p, d, objective),
                 specs[i].name);
    ++checked;
  }
  EXPECT_EQ(checked, c.has_sublayer_output_norms() ? 16 : 12);
}

TEST(GLMLayer, BackwardMatchesFiniteDifferences) {
  check_layer(modeldef::LayerNormPlacement::deepnorm);
}
TEST(GLMLayer, PostLnBackwardMatchesFiniteDifferences) {
  check_layer(modeldef::LayerNormPlacement::post_ln);
}
TEST(GLMLayer, PreLnBackwardMatchesFiniteDifferences) {
  check_layer(modeldef::LayerNormPlacement::pre_ln);
}
TEST(GLMLayer, SandwichBackwardMatchesFiniteDifferences) {
  check_layer(modeldef::LayerNormPlacement::sandwich);
}

// The whole model in each placement (embedding, layers, final LN, tied head), with dropout.
class LayerNormPlacements : public ::testing::TestWithParam<modeldef::LayerNormPlacement> {};
TEST_P(LayerNormPlacements, ModelBackwardMatchesFiniteDifferences) {
  modeldef::ModelConfig c = tiny_config(2);
  c.layernorm = GetParam();
  c.hidden_dropout = 0.1;
  c.attention_dropout = 0.1;
  check_model(c, true, 21);
}
INSTANTIATE_TEST_SUITE_P(GLMModel, LayerNormPlacements,
                         ::testing::Values(modeldef::LayerNormPlacement::post_ln,
                                           modeldef::LayerNormPlacement::pre_ln,
                                           modeldef::LayerNormPlacement::sandwich),
                         [](const auto& info) {
                           return std::string(layernorm_placement_name(info.param));
                         });

TEST(GLMModel, RecomputationGivesBitIdenticalGradients) {
  modeldef::ModelConfig c = tiny_config(3);
  c.hidden_dropout = 0.1;
  c.attention_dropout = 0.1;
  modeldef::Batch batch = glm_batch(2, 12, c.vocab_size, false, 9);
  auto grads = [&](Recompute r) {
    GLMModel m(c, {.recompute = r, .seed = 9});
    randomize(m, 9);
    m.zero_grads();
    LossStats s = m.forward_backward(batch, {.step = 4});
    return std::make_pair(s.loss_sum, m.grads().flat().clone());
  };
  auto [l0, g0] = grads(Recompute::none);
  auto [l1, g1] = grads(Recompute::full);
  EXPECT_EQ(l0, l1);
  ASSERT_EQ(g0.numel(), g1.numel());
  EXPECT_EQ(std::memcmp(g0.raw(), g1.raw(), g0.nbytes()), 0);
}

}  // namespace
}  // namespace glm::model
