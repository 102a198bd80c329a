// DeepNorm initialisation: each matrix's measured std is within 5% of Xavier x beta (beta
// only where docs/design.md section 2 applies it), biases and LN betas are 0, gammas 1, and the
// values do not depend on which shard of the model initialises them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "model/glm_model.h"
#include "model/init.h"

namespace glm::model {
namespace {

// Sample std of n ~ 100k+ normal draws is within ~0.5% of the truth; 5% is the
// requirement of the issue, loose enough to never flake and tight enough to catch a
// missing beta (which at N=4 is a factor 0.35).
constexpr double kStdTol = 0.05;

struct Moments {
  double mean = 0, std = 0;
};

Moments moments(const float* p, std::int64_t n, std::int64_t stride = 1, std::int64_t count = -1) {
  double s = 0, s2 = 0;
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; i += stride, ++k) {
    if (count >= 0 && k >= count) break;
    s += p[i];
    s2 += double(p[i]) * p[i];
  }
  double mean = s / k;
  return {mean, std::sqrt(s2 / k - mean * mean)};
}

modeldef::ModelConfig init_config() {
  modeldef::ModelConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 256;
  c.num_layers = 4;
  c.num_heads = 4;
  c.ffn_hidden_size = 704;
  return c;
}

TEST(DeepNormInit, MatrixStdIsXavierPerProjectionTimesBeta) {
  modeldef::ModelConfig c = init_config();
  GLMModel m(c, {.seed = 42});
  m.init();
  const double h = c.hidden_size, f = c.ffn_hidden_size, beta = 1.0 / std::sqrt(2.0 * c.num_layers);
  auto xavier = [](double out, double in) { return std::sqrt(2.0 / (out + in)); };
  for (int l = 0; l < c.num_layers; ++l) {
    modeldef::LayerParams w = m.params().layer(l);
    // QKV rows per head: q (d rows), k (d rows), v (d rows); only v is scaled by beta.
    // Xavier per projection, as the paper initialises q, k, v and each GeGLU half (each an
    // [h, h] or [f, h] matrix), not over the fused [3h, h] / [2f, h] ones.
    const std::int64_t d = c.head_dim();
    double sum2[3] = {0, 0, 0};
    std::int64_t n[3] = {0, 0, 0};
    const float* q = w.qkv_w.data<float>();
    for (std::int64_t row = 0; row < 3 * h; ++row)
      for (std::int64_t col = 0; col < h; ++col) {
        const double x = q[row * static_cast<std::int64_t>(h) + col];
        const int part = static_cast<int>((row % (3 * d)) / d);  // 0 q, 1 k, 2 v
        sum2[part] += x * x;
        ++n[part];
      }
    const char* names[3] = {"q", "k", "v"};
    for (int part = 0; part < 3; ++part)
      EXPECT_NEAR(std::sqrt(sum2[part] / n[part]) / (xavier(h, h) * (part == 2 ? beta : 1.0)), 1.0,
                  kStdTol)
          << "layer " << l << " " << names[part];
    EXPECT_NEAR(moments(w.dense_w.data<float>(), w.dense_w.numel()).std / (xavier(h, h) * beta), 1.0, kStdTol);
    const std::int64_t half = static_cast<std::int64_t>(f * h);  // W1 rows: x1 half, then x2
    EXPECT_NEAR(moments(w.w1.data<float>(), half).std / (xavier(f, h) * beta), 1.0, kStdTol) << "x1";
    EXPECT_NEAR(moments(w.w1.data<float>() + half, half).std / (xavier(f, h) * beta), 1.0, kStdTol)
        << "x2";
    EXPECT_NEAR(moments(w.w2.data<float>(), w.w2.numel()).std / (xavier(h, f) * beta), 1.0, kStdTol);
    EXPECT_NEAR(moments(w.w1.data<float>(), w.w1.numel()).mean, 0.0, 1e-3);
    for (const Tensor* b : {&w.qkv_b, &w.dense_b, &w.b1, &w.b2, &w.ln_in_b, &w.ln_post_b})
      for (std::int64_t i = 0; i < b->numel(); ++i) ASSERT_EQ(b->data<float>()[i], 0.f);
    for (const Tensor* g : {&w.ln_in_w, &w.ln_post_w})
      for (std::int64_t i = 0; i < g->numel(); ++i) ASSERT_EQ(g->data<float>()[i], 1.f);
  }
  const Tensor& E = m.params().embedding();
  EXPECT_NEAR(moments(E.data<float>(), E.numel()).std / c.init_std, 1.0, kStdTol);
}

TEST(DeepNormInit, ValuesDependOnNameNotOnWhichShardHoldsThem) {
  modeldef::ModelConfig c = init_config();
  c.num_layers = 3;
  GLMModel whole(c, {.seed = 7});
  whole.init();
  // A shard holding only layer 2 (a later pipeline stage) must draw the same layer-2 values.
  auto layout = std::make_shared<modeldef::ParamLayout>(
      c, modeldef::ModelShard{.first_layer = 2, .last_layer = 3});
  modeldef::FlatParams part(layout);
  deepnorm_init(part, 7);
  const Tensor& a = whole.params().layer(2).w1;
  const Tensor& b = part.layer(2).w1;
  ASSERT_EQ(a.numel(), b.numel());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
  // and a different seed gives different values
  GLMModel other(c, {.seed = 8});
  other.init();
  EXPECT_NE(std::memcmp(a.raw(), other.params().layer(2).w1.raw(), a.nbytes()), 0);
}

}  // namespace
}  // namespace glm::model
