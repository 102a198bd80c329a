// Tensor-parallel parameter layouts (modeldef/param_layout.h) and boxes (core/box.h): the TP
// pieces of every parameter cover its global frame exactly once among primaries, hold the
// same initial values as the one-process model (init is keyed by global index), and
// re-cutting by boxes round-trips.
#include <gtest/gtest.h>

#include <map>

#include "core/box.h"
#include "core/error.h"
#include "model/init.h"
#include "modeldef/param_layout.h"

namespace glm::model {
namespace {

modeldef::ModelConfig tp_config() {
  modeldef::ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.ffn_hidden_size = 48;
  c.seq_length = 16;
  return c;
}

TEST(Box, IntersectAndRuns) {
  Box a{{0, 2}, {4, 3}}, b{{1, 0}, {2, 4}};
  auto c = intersect(a, b);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, (Box{{1, 2}, {2, 2}}));
  EXPECT_FALSE(intersect(a, Box{{0, 5}, {4, 1}}));
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> runs;
  for_each_run(a, b, *c, [&](std::int64_t ia, std::int64_t ib, std::int64_t n) {
    runs.emplace_back(ia, ib, n);
  });
  // rows 1 and 2: in a (3 wide, from column 2) and in b (4 wide, from column 0)
  EXPECT_EQ(runs, (decltype(runs){{3, 2, 2}, {6, 6, 2}}));
}

TEST(ParamLayoutTp, PiecesTileEveryTensorAndInitMatchesOneProcess) {
  const modeldef::ModelConfig c = tp_config();
  modeldef::ParamLayout whole(c, {});
  modeldef::FlatParams full(std::make_shared<modeldef::ParamLayout>(c, modeldef::ModelShard{}));
  deepnorm_init(full, 9);
  for (int t : {2, 4}) {
    std::map<std::string, std::int64_t> covered;
    for (int r = 0; r < t; ++r) {
      modeldef::ModelShard s;
      s.tp_rank = r;
      s.tp_size = t;
      auto layout = std::make_shared<modeldef::ParamLayout>(c, s);
      modeldef::FlatParams p(layout);
      deepnorm_init(p, 9);
      for (std::size_t i = 0; i < layout->specs().size(); ++i) {
        const modeldef::ParamSpec& spec = layout->specs()[i];
        const modeldef::ParamSpec& g = whole.spec(spec.name);
        ASSERT_EQ(spec.global_shape, g.global_shape) << spec.name;
        ASSERT_EQ(shape_numel(spec.box_shape), spec.numel()) << spec.name;
        if (spec.primary) covered[spec.name] += spec.numel();
        // every element equals the one-process value at the same global coordinates
        const float* mine = p.at(static_cast<int>(i)).data<float>();
        const float* ref = full.get(spec.name).data<float>();
        for_each_run(spec.global_shape, spec.box(), [&](std::int64_t li, std::int64_t gi, std::int64_t n) {
          for (std::int64_t k = 0; k < n; ++k) ASSERT_EQ(mine[li + k], ref[gi + k]) << spec.name;
        });
      }
    }
    for (const auto& g : whole.specs())
      EXPECT_EQ(covered[g.name], shape_numel(g.global_shape)) << g.name << " tp " << t;
  }
}

TEST(ParamLayoutTp, W1HalvesAreSplitConsistently) {
  const modeldef::ModelConfig c = tp_config();
  modeldef::ModelShard s;
  s.tp_rank = 1;
  s.tp_size = 2;
  modeldef::ParamLayout l(c, s);
  const modeldef::ParamSpec& w1 = l.spec("layers.0.mlp.dense_h_to_4h.weight");
  // rank 1 of 2 holds rows [24, 48) of x1 and of x2 (f = 48), used as [2 * 24, h]
  EXPECT_EQ(w1.global_shape, (Shape{2, 48, 32}));
  EXPECT_EQ(w1.global_offset, (Shape{0, 24, 0}));
  EXPECT_EQ(w1.box_shape, (Shape{2, 24, 32}));
  EXPECT_EQ(w1.shape, (Shape{48, 32}));
  EXPECT_EQ(l.spec("layers.0.attention.dense.weight").global_offset, (Shape{0, 16}));
  EXPECT_FALSE(l.spec("layers.0.input_layernorm.weight").primary);  // replicated: rank 0 owns it
  EXPECT_TRUE(l.spec("embedding.weight").primary);
}

TEST(ParamLayoutTp, IndivisibleSizesAreInputErrors) {
  modeldef::ModelConfig c = tp_config();
  modeldef::ModelShard s;
  s.tp_size = 3;
  try {
    modeldef::ParamLayout l(c, s);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("num_heads 4 is not divisible by tp 3"), std::string::npos) << m;
    EXPECT_NE(m.find("vocab_size 64 is not divisible by tp 3"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace glm::model
