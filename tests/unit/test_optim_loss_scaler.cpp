// The dynamic loss scaler (optim/loss_scaler.h): Megatron DynamicGradScaler semantics with
// GLM-130B's defaults, stepped through exact event sequences.
#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "optim/loss_scaler.h"

namespace glm::optim {
namespace {

constexpr bool kOverflow = true, kClean = false;

LossScalerConfig small_window(std::int64_t interval) {
  LossScalerConfig c;
  c.growth_interval = interval;
  return c;
}

TEST(LossScaler, StartsAtTheGlm130bDefaults) {
  LossScaler s;
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.config().growth_interval, 2000);
  EXPECT_EQ(s.config().hysteresis, 2);
  EXPECT_EQ(s.config().min_scale, 1.0);
  EXPECT_EQ(s.inv_scale(), 1.f / 65536.f);
}

TEST(LossScaler, ForcedOverflowSkipsAndBacksOffOnlyAfterHysteresis) {
  LossScaler s;
  EXPECT_TRUE(s.update(kOverflow));  // first overflow: skipped, scale kept (hysteresis 2)
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_TRUE(s.update(kOverflow));  // second: skipped and halved
  EXPECT_EQ(s.scale(), 32768.0);
  EXPECT_EQ(s.skipped_steps(), 2);
  EXPECT_FALSE(s.update(kClean));
  EXPECT_EQ(s.clean_steps(), 1);
}

TEST(LossScaler, HysteresisFollowsMegatronExactly) {
  // growth_interval 3 so growth resets are reachable. Each row: event, expected skip,
  // expected scale after it, expected hysteresis tracker after it.
  LossScaler s(small_window(3));
  struct Row {
    bool overflow, skip;
    double scale;
    int hysteresis;
  };
  const std::vector<Row> rows = {
      {kOverflow, true, 65536, 1},  // budget 2 -> 1: no backoff yet
      {kClean, false, 65536, 1},    // a clean step does not restore the budget
      {kClean, false, 65536, 1},   {kOverflow, true, 32768, 0},  // budget used up: halve
      {kOverflow, true, 16384, 0},  // stays used up: every further overflow halves
      {kClean, false, 16384, 0},   {kClean, false, 16384, 0},
      {kClean, false, 32768, 2},    // 3 clean in a row: grow, budget back to 2
      {kOverflow, true, 32768, 1},  // tolerated again
      {kOverflow, true, 16384, 0},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(s.update(rows[i].overflow), rows[i].skip) << "row " << i;
    EXPECT_EQ(s.scale(), rows[i].scale) << "row " << i;
    EXPECT_EQ(s.state().hysteresis_tracker, rows[i].hysteresis) << "row " << i;
  }
  EXPECT_EQ(s.skipped_steps(), 5);
}

TEST(LossScaler, GrowsAfterAFullWindowOfCleanSteps) {
  LossScaler s;  // the real 2000-step window
  for (int i = 0; i < 1999; ++i) ASSERT_FALSE(s.update(kClean));
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(kClean);
  EXPECT_EQ(s.scale(), 131072.0);
  EXPECT_EQ(s.state().growth_tracker, 0);
  // An overflow restarts the window.
  for (int i = 0; i < 1000; ++i) s.update(kClean);
  s.update(kOverflow);
  for (int i = 0; i < 1999; ++i) s.update(kClean);
  EXPECT_EQ(s.scale(), 131072.0);
  s.update(kClean);
  EXPECT_EQ(s.scale(), 262144.0);
  EXPECT_EQ(s.clean_steps(), 2000);  // consecutive since the overflow, growth does not reset it
}

TEST(LossScaler, NeverGoesBelowTheMinimumScale) {
  LossScalerConfig c;
  c.initial_scale = 8;
  c.min_scale = 2;
  LossScaler s(c);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.update(kOverflow));
  EXPECT_EQ(s.scale(), 2.0);
  EXPECT_EQ(s.skipped_steps(), 10);  // still skipping at the floor
}

TEST(LossScaler, FixedModeKeepsItsScaleButStillSkipsNonFiniteSteps) {
  LossScaler s(LossScalerConfig::fixed());
  EXPECT_FALSE(s.dynamic());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(s.update(kOverflow));
  for (int i = 0; i < 3000; ++i) EXPECT_FALSE(s.update(kClean));
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_EQ(s.skipped_steps(), 5);
  EXPECT_FALSE(s.collapsing());
}

TEST(LossScaler, ReportsCollapseWhenTheScaleIsLow) {
  LossScaler s;
  // 2 overflows for the first halving, then one per halving: 2^16 -> 2^3 takes 14 overflows.
  // Spaced out so the frequent-backoff rule does not fire first.
  for (int i = 0; i < 14; ++i) {
    EXPECT_FALSE(s.collapsing()) << "after " << i << " overflows, scale " << s.scale();
    s.update(kOverflow);
    for (int k = 0; k < 1000; ++k) s.update(kClean);  // below the 2000 growth window
  }
  EXPECT_EQ(s.scale(), 8.0);
  EXPECT_TRUE(s.collapsing());
}

TEST(LossScaler, ReportsCollapseOnFrequentBackoffs) {
  LossScaler s;
  s.update(kOverflow);  // uses the hysteresis budget
  for (int i = 0; i < 3; ++i) s.update(kOverflow);
  EXPECT_EQ(s.state().recent_backoffs.size(), 3u);
  EXPECT_FALSE(s.collapsing());
  s.update(kOverflow);  // 4th backoff within 1000 updates
  EXPECT_TRUE(s.collapsing());
  for (int i = 0; i < 1000; ++i) s.update(kClean);  // they leave the window
  EXPECT_FALSE(s.collapsing());
}

TEST(LossScaler, StateRoundTripsThroughJsonAndContinuesIdentically) {
  LossScaler a(small_window(5));
  for (bool e : {kOverflow, kClean, kOverflow, kOverflow, kClean, kClean}) a.update(e);
  const nlohmann::json j = a.state();
  const std::string text = j.dump();
  LossScaler b(small_window(5));
  b.load_state(nlohmann::json::parse(text).get<checkpoint::LossScalerState>());
  EXPECT_EQ(b.state(), a.state());
  for (bool e : {kClean, kClean, kClean, kOverflow, kClean}) {
    EXPECT_EQ(a.update(e), b.update(e));
    EXPECT_EQ(a.scale(), b.scale());
  }
  EXPECT_EQ(a.state(), b.state());
}

TEST(LossScaler, StateFromJsonNamesAMissingKey) {
  nlohmann::json j = LossScaler().state();
  j.erase("hysteresis_tracker");
  try {
    (void)j.get<checkpoint::LossScalerState>();
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hysteresis_tracker"), std::string::npos) << e.what();
  }
}

TEST(LossScaler, RejectsAMinimumAboveTheInitialScale) {
  LossScalerConfig c;
  c.min_scale = 1e6;
  EXPECT_THROW(LossScaler{c}, InputError);
}

}  // namespace
}  // namespace glm::optim
