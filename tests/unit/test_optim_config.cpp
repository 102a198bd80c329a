// The "optim", "batch", "egs_schedule" and "spike_guard" config objects: defaults, round
// trips, and every bad value or unknown key rejected with a message naming it.
#include <gtest/gtest.h>

#include <string>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "optim/lr_schedule.h"
#include "config/optim_config.h"
#include "optim/loss_scaler.h"
#include "optim/spike_guard.h"

namespace glm::optim {
namespace {

template <class F>
std::string error_of(F&& parse) {
  try {
    parse();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(OptimConfig, DefaultsAreTheDesignValues) {
  const config::OptimConfig c = config::OptimConfig::from_json(nlohmann::json::object(), "t.json");
  EXPECT_EQ(c.beta1, 0.9);
  EXPECT_EQ(c.beta2, 0.95);
  EXPECT_EQ(c.eps, 1e-8);
  EXPECT_EQ(c.weight_decay, 0.1);
  EXPECT_FALSE(c.decay_embedding);
  EXPECT_EQ(c.clip_grad, 1.0);
  EXPECT_EQ(c.lr_init, 1e-7);
  EXPECT_EQ(c.initial_loss_scale, 65536.0);
  EXPECT_EQ(c.loss_scale_window, 2000);
  EXPECT_EQ(c.hysteresis, 2);
  EXPECT_EQ(c.min_loss_scale, 1.0);
  EXPECT_TRUE(optim::loss_scaler_config(c, true).dynamic);
  EXPECT_FALSE(optim::loss_scaler_config(c, false).dynamic);
  EXPECT_EQ(optim::loss_scaler_config(c, false).initial_scale, 1.0);
}

TEST(OptimConfig, RoundTripsThroughJson) {
  config::OptimConfig c;
  c.lr = 3e-4;
  c.lr_warmup_samples = 100;
  c.lr_decay_samples = 5000;
  c.lr_decay_style = "linear";
  c.decay_embedding = true;
  const config::OptimConfig back = config::OptimConfig::from_json(c.to_json(), "t.json");
  EXPECT_EQ(back.to_json(), c.to_json());
}

TEST(OptimConfig, RejectsAnUnknownKeyByName) {
  const std::string msg = error_of([] {
    config::OptimConfig::from_json({{"lr", 1e-4}, {"lr_max", 1e-3}}, "run.json");
  });
  EXPECT_NE(msg.find("optim.lr_max"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run.json"), std::string::npos) << msg;
}

TEST(OptimConfig, RejectsInconsistentValuesNamingEachKey) {
  const std::string msg = error_of([] {
    config::OptimConfig::from_json({{"lr", 1e-4},
                            {"lr_min", 1e-3},
                            {"lr_warmup_samples", 500},
                            {"lr_decay_samples", 100},
                            {"lr_decay_style", "step"}},
                           "run.json");
  });
  EXPECT_NE(msg.find("optim.lr_min"), std::string::npos) << msg;
  EXPECT_NE(msg.find("optim.lr_decay_samples"), std::string::npos) << msg;
  EXPECT_NE(msg.find("optim.lr_decay_style"), std::string::npos) << msg;
}

TEST(OptimConfig, UsesTheSectionNameItIsGiven) {
  const std::string msg = error_of([] {
    config::OptimConfig::from_json({{"beta3", 0.5}}, "run.json", "train.optim");
  });
  EXPECT_NE(msg.find("train.optim.beta3"), std::string::npos) << msg;
}

TEST(BatchConfig, ValidRampupParsesAndRoundTrips) {
  const config::BatchConfig b = config::BatchConfig::from_json({{"global_batch_size", 4224},
                                                {"rampup_start", 192},
                                                {"rampup_increment", 24},
                                                {"rampup_samples", 5490000}},
                                               "t.json");
  EXPECT_TRUE(b.rampup());
  EXPECT_EQ(config::BatchConfig::from_json(b.to_json(), "t.json").to_json(), b.to_json());
}

TEST(BatchConfig, RejectsRampupThatCannotReachTheGlobalBatch) {
  std::string msg = error_of([] {
    config::BatchConfig::from_json({{"global_batch_size", 100},
                            {"rampup_start", 10},
                            {"rampup_increment", 7},
                            {"rampup_samples", 1000}},
                           "t.json");
  });
  EXPECT_NE(msg.find("batch.rampup_increment"), std::string::npos) << msg;
  msg = error_of([] {
    config::BatchConfig::from_json({{"global_batch_size", 100},
                            {"rampup_start", 200},
                            {"rampup_increment", 4},
                            {"rampup_samples", 1000}},
                           "t.json");
  });
  EXPECT_NE(msg.find("batch.rampup_start"), std::string::npos) << msg;
  msg = error_of([] {
    config::BatchConfig::from_json({{"global_batch_size", 100}, {"rampup_samples", 1000}}, "t.json");
  });
  EXPECT_NE(msg.find("batch.rampup_increment"), std::string::npos) << msg;
  msg = error_of([] { config::BatchConfig::from_json({{"global_batch", 100}}, "t.json"); });
  EXPECT_NE(msg.find("batch.global_batch"), std::string::npos) << msg;
}

TEST(SpikeGuardConfig, RejectsUnknownKeysAndBadValuesByName) {
  std::string msg = error_of([] { config::SpikeGuardConfig::from_json({{"treshold", 4.0}}, "t.json"); });
  EXPECT_NE(msg.find("spike_guard.treshold"), std::string::npos) << msg;
  msg = error_of([] {
    config::SpikeGuardConfig::from_json({{"window", 10}, {"min_history", 20}}, "t.json");
  });
  EXPECT_NE(msg.find("spike_guard.min_history"), std::string::npos) << msg;
  const config::SpikeGuardConfig c = config::SpikeGuardConfig::from_json({{"enabled", true}}, "t.json");
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(config::SpikeGuardConfig::from_json(c.to_json(), "t.json").to_json(), c.to_json());
}

TEST(EgsScheduleConfig, RejectsAnUnknownKeyByName) {
  const std::string msg = error_of([] { config::EgsSchedule::from_json({{"alpa", 0.1}}, "t.json"); });
  EXPECT_NE(msg.find("egs_schedule.alpa"), std::string::npos) << msg;
}

}  // namespace
}  // namespace glm::optim
