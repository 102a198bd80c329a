// The spike guard (optim/spike_guard.h): ordinary noise passes, an outlier or a non-finite
// value is flagged, K flagged steps in a row ask for a rollback, a level shift is accepted
// instead of skipped forever, and the window survives a checkpoint round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "optim/spike_guard.h"

namespace glm::optim {
namespace {

config::SpikeGuardConfig enabled() {
  config::SpikeGuardConfig c;
  c.enabled = true;
  return c;
}

// A slowly falling loss with 1% Gaussian noise and a noisy gradient norm: an ordinary run.
void feed_normal_steps(SpikeGuard& g, int n, std::uint64_t seed, int* flagged) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    const double loss = 4.0 - 1e-3 * i + 0.04 * noise(rng);
    const double norm = 0.8 + 0.05 * noise(rng);
    if (g.check(loss, norm)) ++*flagged;
  }
}

TEST(SpikeGuard, OrdinaryNoiseIsNeverFlagged) {
  SpikeGuard g(enabled());
  int flagged = 0;
  feed_normal_steps(g, 2000, 1, &flagged);
  EXPECT_EQ(flagged, 0);
  EXPECT_EQ(g.state().losses.size(), 100u);  // the window keeps the last 100
}

TEST(SpikeGuard, FlagsALossSpikeAndAGradNormSpike) {
  SpikeGuard g(enabled());
  int flagged = 0;
  feed_normal_steps(g, 200, 2, &flagged);
  ASSERT_EQ(flagged, 0);
  EXPECT_TRUE(g.check(7.0, 0.8));  // loss jumps by ~3, dozens of sigma
  EXPECT_EQ(g.last_reason(), SpikeReason::loss_outlier);
  EXPECT_GT(g.last_z(), 5.0);
  EXPECT_TRUE(g.check(3.8, 5.0));  // gradient norm spike
  EXPECT_EQ(g.last_reason(), SpikeReason::grad_norm_outlier);
  EXPECT_FALSE(g.check(3.8, 0.8));
  EXPECT_EQ(g.total_flagged(), 2);
  EXPECT_EQ(g.consecutive_flagged(), 0);
}

TEST(SpikeGuard, ALossDropIsNotASpike) {
  SpikeGuard g(enabled());
  int flagged = 0;
  feed_normal_steps(g, 200, 3, &flagged);
  EXPECT_FALSE(g.check(1.0, 0.8));  // one-sided: far below the mean is fine
}

TEST(SpikeGuard, FlagsNonFiniteValuesEvenWithoutHistory) {
  SpikeGuard g(enabled());
  EXPECT_TRUE(g.check(std::numeric_limits<double>::quiet_NaN(), 1.0));
  EXPECT_EQ(g.last_reason(), SpikeReason::nonfinite_loss);
  EXPECT_TRUE(g.check(3.0, std::numeric_limits<double>::infinity()));
  EXPECT_EQ(g.last_reason(), SpikeReason::nonfinite_grad_norm);
  EXPECT_TRUE(g.state().losses.empty());  // flagged steps never enter the window
}

TEST(SpikeGuard, WaitsForMinHistoryBeforeJudgingOutliers) {
  SpikeGuard g(enabled());
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(g.check(3.0 + 0.01 * (i % 2), 1.0));
  EXPECT_FALSE(g.check(100.0, 1.0));  // 20th entry: history still below min_history
  EXPECT_TRUE(g.check(1000.0, 1.0));  // now judged
}

TEST(SpikeGuard, AFlatWindowDoesNotFlagRoundingNoise) {
  SpikeGuard g(enabled());
  for (int i = 0; i < 50; ++i) ASSERT_FALSE(g.check(2.5, 1.0));  // std = 0
  EXPECT_FALSE(g.check(2.5 + 1e-6, 1.0 + 1e-6));                 // within the std floor
  EXPECT_TRUE(g.check(2.6, 1.0));                                // 4% up: 40x the floor
}

TEST(SpikeGuard, AsksForRollbackAfterKFlaggedStepsInARow) {
  config::SpikeGuardConfig c = enabled();
  c.max_consecutive = 3;
  SpikeGuard g(c);
  int flagged = 0;
  feed_normal_steps(g, 100, 4, &flagged);
  EXPECT_TRUE(g.check(9.0, 0.8));
  EXPECT_TRUE(g.check(9.0, 0.8));
  EXPECT_FALSE(g.should_rollback());
  EXPECT_FALSE(g.check(3.9, 0.8));  // an accepted step resets the run
  EXPECT_EQ(g.consecutive_flagged(), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(g.check(9.0, 0.8));
  EXPECT_TRUE(g.should_rollback());
  g.clear_consecutive();
  EXPECT_FALSE(g.should_rollback());
}

// A real level shift (the loss jumps to a new, stable level): K flagged steps, then the
// guard takes the new level as its window and stops skipping; a spike after it is judged
// against the new level once min_history steps have been accepted there.
TEST(SpikeGuard, AcceptsALevelShiftInsteadOfSkippingForever) {
  config::SpikeGuardConfig c = enabled();
  c.max_consecutive = 3;
  c.min_history = 5;
  SpikeGuard g(c);
  int flagged = 0;
  feed_normal_steps(g, 100, 6, &flagged);
  ASSERT_EQ(flagged, 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(g.check(6.0 + 0.01 * i, 1.5));
  ASSERT_TRUE(g.should_rollback());
  ASSERT_TRUE(g.accept_new_level());
  EXPECT_FALSE(g.should_rollback());
  EXPECT_EQ(g.state().losses.size(), 3u);
  int skipped = 0;
  for (int i = 0; i < 50; ++i) skipped += g.check(6.0 + 0.02 * std::sin(i), 1.5 + 0.01 * std::cos(i));
  EXPECT_EQ(skipped, 0) << "steps at the new level are accepted";
  EXPECT_TRUE(g.check(60.0, 1.5)) << "and a spike above the new level is still flagged";
  // A run of non-finite steps leaves nothing to start a window from.
  SpikeGuard h(c);
  feed_normal_steps(h, 100, 7, &flagged);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(h.check(std::nan(""), 1.0));
  EXPECT_TRUE(h.should_rollback());
  EXPECT_FALSE(h.accept_new_level());
  EXPECT_TRUE(h.should_rollback());
}

TEST(SpikeGuard, OffByDefaultAndThenNeverFlags) {
  SpikeGuard g;
  EXPECT_FALSE(g.config().enabled);
  EXPECT_FALSE(g.check(std::numeric_limits<double>::quiet_NaN(), 1e30));
  EXPECT_FALSE(g.should_rollback());
}

TEST(SpikeGuard, WindowStateRoundTripsThroughJson) {
  SpikeGuard a(enabled());
  int flagged = 0;
  feed_normal_steps(a, 150, 5, &flagged);
  a.check(50.0, 0.8);
  const std::string text = nlohmann::json(a.state()).dump();
  SpikeGuard b(enabled());
  b.load_state(nlohmann::json::parse(text).get<checkpoint::SpikeGuardState>());
  EXPECT_EQ(b.state(), a.state());
  for (double loss : {3.9, 3.85, 20.0, 3.88}) {
    EXPECT_EQ(a.check(loss, 0.8), b.check(loss, 0.8));
    EXPECT_EQ(a.last_z(), b.last_z());
  }
  nlohmann::json broken = nlohmann::json(a.state());
  broken.erase("grad_norms");
  try {
    (void)broken.get<checkpoint::SpikeGuardState>();
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("grad_norms"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glm::optim

// spike_guard.recovery's divergence signatures (optim/spike_recovery.h): each one, the start
// of the spike at the first skipped step, nothing while disabled, and the budget's window.
namespace glm::optim {
namespace {

DivergenceWatch::Step skipped_step(std::int64_t step, double loss) {
  return {.step = step, .samples_before = 8 * (step - 1), .loss = loss, .skipped = true};
}

TEST(DivergenceWatch, EachSignatureAndTheSpikeStart) {
  config::SpikeRecoveryConfig c;
  c.enabled = true;
  c.nonfinite_steps = 3;
  DivergenceWatch w(c);
  EXPECT_FALSE(w.observe({.step = 1, .loss = 7.0}));  // accepted
  const double nan = std::nan("");
  EXPECT_FALSE(w.observe(skipped_step(2, 9.0)));  // an outlier: the spike begins
  EXPECT_FALSE(w.observe(skipped_step(3, nan)));
  EXPECT_FALSE(w.observe(skipped_step(4, nan)));
  const auto why = w.observe(skipped_step(5, nan));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("non-finite loss on 3 steps"), std::string::npos) << *why;
  EXPECT_EQ(w.spike_step(), 2);
  EXPECT_EQ(w.spike_samples(), 8);
  EXPECT_FALSE(w.observe({.step = 6, .loss = 7.0}));  // accepted again: a new spike later
  EXPECT_EQ(w.spike_step(), -1);

  DivergenceWatch::Step floor = skipped_step(7, 7.5);
  floor.overflow_at_floor = true;
  EXPECT_TRUE(w.observe(floor));
  DivergenceWatch::Step guard = skipped_step(8, 7.5);
  guard.guard_wants_rollback = true;
  EXPECT_TRUE(w.observe(guard));

  DivergenceWatch off{config::SpikeRecoveryConfig{}};  // disabled: tracks, never asks
  EXPECT_FALSE(off.observe(floor));
  EXPECT_FALSE(off.observe(guard));
}

TEST(DivergenceWatch, TheBudgetCountsRecoveriesWithinItsWindow) {
  config::SpikeRecoveryConfig c;
  c.max_recoveries = 2;
  c.budget_steps = 100;
  std::vector<checkpoint::RecoveryRecord> r = {{.step = 50}, {.step = 120}};
  EXPECT_FALSE(recovery_budget_left(c, r, 140));  // 50 and 120 within (40, 140]
  EXPECT_TRUE(recovery_budget_left(c, r, 150));   // 50 has left the window
}

TEST(DivergenceWatch, RecoveryConfigAndRecordsRoundTrip) {
  config::SpikeGuardConfig g = config::SpikeGuardConfig::from_json(
      nlohmann::json::parse(R"({"enabled": true, "recovery": {"enabled": true, "lr_scale": 0.5,
                                "egs_alpha": 0.05, "max_recoveries": 2}})"),
      "test.json");
  EXPECT_TRUE(g.recovery.enabled);
  EXPECT_DOUBLE_EQ(g.recovery.lr_scale, 0.5);
  EXPECT_DOUBLE_EQ(g.recovery.egs_alpha, 0.05);
  EXPECT_EQ(g.recovery.max_recoveries, 2);
  EXPECT_EQ(config::SpikeGuardConfig::from_json(g.to_json(), "again").recovery.to_json(),
            g.recovery.to_json());
  try {
    config::SpikeGuardConfig::from_json(nlohmann::json::parse(R"({"recovery": {"lr_scal": 0.5}})"),
                                "test.json");
    ADD_FAILURE() << "an unknown recovery key must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("spike_guard.recovery.lr_scal"), std::string::npos)
        << e.what();
  }
  checkpoint::SpikeGuardState s;
  s.recoveries.push_back({18, "spike guard", 16, 120, 144, 15});
  nlohmann::json j = s;
  EXPECT_EQ(j.get<checkpoint::SpikeGuardState>(), s);
  j.erase("recoveries");  // a checkpoint from before recoveries were kept
  EXPECT_TRUE(j.get<checkpoint::SpikeGuardState>().recoveries.empty());
}

}  // namespace
}  // namespace glm::optim
