// The blend schedule and cursor (data/blend.h): proportions, purity in g, warm-ups, state.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/blend.h"

namespace glm::data {
namespace {

BlendSchedule three() {
  return BlendSchedule({{"en", "data/en", 0.6}, {"zh", "data/zh", 0.35}, {"mip", "data/mip", 0.05}});
}

// Every source's count stays within one sample of its target T_d(g) at every g (the greedy
// rule's bound), so over 100000 samples the shares are 0.6 / 0.35 / 0.05 to 1e-5, far inside
// the statistical bounds of independent draws (3 sigma of a binomial: 5e-3 for 0.6).
TEST(Blend, SharesFollowTheWeightsAtEveryPrefix) {
  const BlendSchedule s = three();
  BlendCursor c(&s);
  std::vector<std::int64_t> n(3, 0);
  const std::int64_t G = 100000;
  for (std::int64_t g = 0; g < G; ++g) {
    const auto [d, k] = c.at(g);
    EXPECT_EQ(k, n[d]) << g;  // each source's samples are read in order, none skipped
    ++n[d];
    if (g % 997 == 0)
      for (int e = 0; e < 3; ++e) EXPECT_LE(std::abs(n[e] - s.target(e, g + 1)), 1.0) << g;
  }
  EXPECT_NEAR(n[0] / double(G), 0.6, 1e-5);
  EXPECT_NEAR(n[1] / double(G), 0.35, 1e-5);
  EXPECT_NEAR(n[2] / double(G), 0.05, 1e-5);
  EXPECT_EQ(c.counts_before(G), n);
}

// (source, index) of g does not depend on which samples were asked before, in what order, or
// on a cursor that starts from a later base with the counts there (a resume).
TEST(Blend, ASampleIsAPureFunctionOfItsIndex) {
  const BlendSchedule s = three();
  BlendCursor forward(&s);
  std::vector<std::pair<int, std::int64_t>> all;
  for (std::int64_t g = 0; g < 5000; ++g) all.push_back(forward.at(g));
  BlendCursor jumping(&s);
  for (std::int64_t g : {4999, 17, 2500, 0, 2501, 4000})
    EXPECT_EQ(jumping.at(g), all[g]) << g;
  BlendCursor fresh(&s);
  BlendCursor resumed(&s, 3000, fresh.counts_before(3000));
  for (std::int64_t g = 3000; g < 5000; ++g) EXPECT_EQ(resumed.at(g), all[g]) << g;
}

// A change of weights at sample 1000 warmed up over 2000 samples: the weights move linearly,
// the targets integrate them, the samples before 1000 are unchanged, and the schedule round-
// trips through JSON to the same choices.
TEST(Blend, AWeightChangeWarmsUpLinearly) {
  BlendSchedule before = three();
  BlendSchedule s = three();
  s.change_weights(1000, {0.2, 0.2, 0.6}, 2000);
  EXPECT_EQ(s.sources()[2].weight, 0.6);
  EXPECT_NEAR(s.weights_at(999)[2], 0.05, 1e-12);
  EXPECT_NEAR(s.weights_at(1000)[2], 0.05, 1e-12);
  EXPECT_NEAR(s.weights_at(2000)[2], 0.05 + 0.5 * (0.6 - 0.05), 1e-12);
  EXPECT_NEAR(s.weights_at(3000)[2], 0.6, 1e-12);
  EXPECT_NEAR(s.weights_at(9000)[0], 0.2, 1e-12);
  // T_d(g) is the sum of the weights of samples < g
  double sum = 0;
  for (std::int64_t g = 0; g < 4000; ++g) {
    if (g % 250 == 0) EXPECT_NEAR(s.target(2, g), sum, 1e-9) << g;
    sum += s.weights_at(g)[2];
  }
  BlendCursor a(&before), b(&s);
  for (std::int64_t g = 0; g < 1000; ++g) EXPECT_EQ(a.at(g), b.at(g)) << g;
  const std::vector<std::int64_t> at3000 = b.counts_before(3000), at9000 = b.counts_before(9000);
  EXPECT_NEAR(double(at9000[2] - at3000[2]) / 6000, 0.6, 1.0 / 6000);
  const BlendSchedule back = BlendSchedule::from_json(s.to_json(), "meta.json");
  BlendCursor c(&back);
  BlendCursor d(&s);
  for (std::int64_t g = 0; g < 5000; g += 7) EXPECT_EQ(c.at(g), d.at(g)) << g;
}

TEST(Blend, BadBlendsAreRefusedNamingTheProblem) {
  auto message = [](auto&& make) {
    try {
      make();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message([] { BlendSchedule(std::vector<BlendSource>{}); }).find("at least one"), std::string::npos);
  EXPECT_NE(message([] { BlendSchedule({{"a", "x", 1}, {"a", "y", 1}}); }).find("named 'a'"),
            std::string::npos);
  EXPECT_NE(message([] { BlendSchedule({{"a", "x", 0}}); }).find("weight 0"), std::string::npos);
  EXPECT_NE(message([] { BlendSchedule({{"a", "x", NAN}}); }).find("positive and finite"),
            std::string::npos);
  EXPECT_NE(message([] { three().change_weights(10, {1, 1}, 0); }).find("3 datasets given 2"),
            std::string::npos);
  nlohmann::json j = three().to_json();
  j["phases"][0]["to"] = {1.0};
  EXPECT_NE(message([&] { BlendSchedule::from_json(j, "m.json"); }).find("m.json"),
            std::string::npos);
}

}  // namespace
}  // namespace glm::data
