// Learning-rate, batch-size ramp-up and EGS-alpha schedules (optim/lr_schedule.h): values at
// the points the formulas pin down, and Megatron's ramp-up sequence by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>
#include <nlohmann/json.hpp>

#include "optim/lr_schedule.h"

namespace glm::optim {
namespace {

// The schedule is a handful of double operations on values ~1e-4: a few ulps.
constexpr double kLrTol = 1e-18;

config::OptimConfig cosine_config() {
  config::OptimConfig c;
  c.lr = 1e-4;
  c.lr_min = 1e-5;
  c.lr_init = 1e-7;
  c.lr_warmup_samples = 1000;
  c.lr_decay_samples = 11000;  // from sample 0: decay spans samples 1000..11000
  c.lr_decay_style = "cosine";
  return c;
}

TEST(LrSchedule, CosineValuesAtTheKeyPoints) {
  const config::OptimConfig c = cosine_config();
  EXPECT_NEAR(learning_rate(c, 0), 1e-7, kLrTol);                        // start of warm-up
  EXPECT_NEAR(learning_rate(c, 500), 1e-7 + (1e-4 - 1e-7) / 2, kLrTol);  // mid warm-up
  EXPECT_NEAR(learning_rate(c, 1000), 1e-4, kLrTol);                     // end of warm-up: peak
  EXPECT_NEAR(learning_rate(c, 6000), (1e-4 + 1e-5) / 2, kLrTol);        // mid decay
  EXPECT_NEAR(learning_rate(c, 3500), 1e-5 + 9e-5 * 0.5 * (1 + std::cos(std::numbers::pi / 4)),
              kLrTol);
  EXPECT_NEAR(learning_rate(c, 11000), 1e-5, kLrTol);  // end of decay
  EXPECT_EQ(learning_rate(c, 11001), 1e-5);            // constant after
  EXPECT_EQ(learning_rate(c, 1'000'000'000), 1e-5);
}

TEST(LrSchedule, DecreasesMonotonicallyAfterWarmup) {
  const config::OptimConfig c = cosine_config();
  double prev = learning_rate(c, 1000);
  for (std::int64_t n = 1100; n <= 12000; n += 100) {
    const double lr = learning_rate(c, n);
    EXPECT_LE(lr, prev) << "at " << n;
    prev = lr;
  }
}

TEST(LrSchedule, LinearDecayIsHalfwayAtMidDecay) {
  config::OptimConfig c = cosine_config();
  c.lr_decay_style = "linear";
  EXPECT_NEAR(learning_rate(c, 6000), (1e-4 + 1e-5) / 2, kLrTol);
  EXPECT_NEAR(learning_rate(c, 3500), 1e-5 + 9e-5 * 0.75, kLrTol);
}

TEST(LrSchedule, ConstantStyleAndZeroDecayHoldThePeakAfterWarmup) {
  config::OptimConfig c = cosine_config();
  c.lr_decay_style = "constant";
  EXPECT_EQ(learning_rate(c, 50'000), 1e-4);
  c = cosine_config();
  c.lr_decay_samples = 0;
  EXPECT_EQ(learning_rate(c, 50'000), 1e-4);
  EXPECT_NEAR(learning_rate(c, 500), 1e-7 + (1e-4 - 1e-7) / 2, kLrTol);
}

TEST(LrSchedule, NoWarmupStartsAtThePeak) {
  config::OptimConfig c = cosine_config();
  c.lr_warmup_samples = 0;
  EXPECT_EQ(learning_rate(c, 0), 1e-4);
  EXPECT_NEAR(learning_rate(c, 5500), (1e-4 + 1e-5) / 2, kLrTol);
}

TEST(BatchRampup, FollowsMegatronStagesByHand) {
  // 4 -> 16 by 4 over 30 samples: K = 3 increments, one per 10 samples.
  config::BatchConfig b{16, 4, 4, 30};
  const std::vector<std::pair<std::int64_t, std::int64_t>> points = {
      {0, 4}, {9, 4}, {10, 8}, {19, 8}, {20, 12}, {29, 12}, {30, 16}, {31, 16}, {1000, 16}};
  for (auto [n, want] : points) EXPECT_EQ(global_batch_size(b, n), want) << "at " << n;
  // The sequence a trainer sees, consuming each step's batch.
  std::vector<std::int64_t> seq;
  for (std::int64_t n = 0; seq.size() < 7;) {
    seq.push_back(global_batch_size(b, n));
    n += seq.back();
  }
  EXPECT_EQ(seq, (std::vector<std::int64_t>{4, 4, 4, 8, 12, 16, 16}));  // n = 0,4,8,12,20,32,48
}

TEST(BatchRampup, Glm130bSettings) {
  // 192 -> 4224 by 24 over 5.49M samples: 168 increments of 32678.57 samples.
  config::BatchConfig b{4224, 192, 24, 5'490'000};
  EXPECT_EQ(global_batch_size(b, 0), 192);
  EXPECT_EQ(global_batch_size(b, 32'678), 192);
  EXPECT_EQ(global_batch_size(b, 32'679), 216);
  EXPECT_EQ(global_batch_size(b, 2'745'000), 192 + 84 * 24);  // halfway
  EXPECT_EQ(global_batch_size(b, 5'489'999), 4200);
  EXPECT_EQ(global_batch_size(b, 5'490'000), 4224);
  EXPECT_EQ(global_batch_size(b, 9'000'000), 4224);
}

TEST(BatchRampup, OffMeansConstant) {
  config::BatchConfig b;
  b.global_batch_size = 64;
  for (std::int64_t n : {0, 1, 1000, 1'000'000}) EXPECT_EQ(global_batch_size(b, n), 64);
}

TEST(EgsSchedule, RampsLinearlyBetweenSteps) {
  config::EgsSchedule s;
  s.alpha_init = 1.0;
  s.alpha = 0.1;
  s.begin_step = 100;
  s.end_step = 200;
  EXPECT_DOUBLE_EQ(egs_alpha(s, 0), 1.0);
  EXPECT_DOUBLE_EQ(egs_alpha(s, 100), 1.0);
  EXPECT_DOUBLE_EQ(egs_alpha(s, 150), 0.55);
  EXPECT_DOUBLE_EQ(egs_alpha(s, 200), 0.1);
  EXPECT_DOUBLE_EQ(egs_alpha(s, 10'000), 0.1);
}

TEST(EgsSchedule, ConstantByDefault) {
  const config::EgsSchedule s = config::EgsSchedule::constant(0.1);
  for (std::int64_t step : {0, 1, 5000}) EXPECT_DOUBLE_EQ(egs_alpha(s, step), 0.1);
  const config::EgsSchedule d = config::EgsSchedule::from_json({{"alpha", 0.3}}, "t.json");
  EXPECT_DOUBLE_EQ(egs_alpha(d, 0), 0.3);
  EXPECT_DOUBLE_EQ(egs_alpha(d, 7), 0.3);
}

}  // namespace
}  // namespace glm::optim
