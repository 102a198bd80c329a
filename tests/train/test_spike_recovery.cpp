// Automatic spike recovery (spike_guard.recovery, optim/spike_recovery.h) on an injected,
// data-borne spike: GLM_TEST_POISON_SAMPLES scrambles the targets of 3 steps' samples. The
// run rolls back to the checkpoint before the spike, skips those samples and trains on, bit
// for bit like a manual resume from that checkpoint with the same resume.skip_samples; its
// later checkpoints carry the skip; a spent budget stops the run with a checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "train/trainer.h"
#include "train_test_util.h"

namespace glm::train {
namespace {

namespace fs = std::filesystem;
using glm::testing::bit_equal;
using glm::testing::temp_dir;
using glm::testing::tiny_run;


// Global batch 8: samples [120, 144) are steps 16, 17 and 18.
constexpr const char* kPoison = "120:144";

std::vector<std::string> recovery_run(const std::string& save_dir) {
  return {"train.train_iters=30",
          "train.save_interval=5",
          "train.keep_last=100",
          "train.log_interval=1",
          "spike_guard.enabled=true",
          "spike_guard.window=20",
          "spike_guard.min_history=8",
          "spike_guard.z_threshold=4",
          "spike_guard.recovery.enabled=true",
          "train.save_dir=\"" + save_dir + "\""};
}

std::vector<nlohmann::json> metrics(const std::string& log_dir) {
  std::vector<nlohmann::json> v;
  std::ifstream in(log_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

struct PoisonedSamples {
  explicit PoisonedSamples(const char* range) { ::setenv("GLM_TEST_POISON_SAMPLES", range, 1); }
  ~PoisonedSamples() { ::unsetenv("GLM_TEST_POISON_SAMPLES"); }
};

TEST(SpikeRecovery, RollsBackSkipsTheSpikeAndEqualsAManualResume) {
  const std::string dir = temp_dir("glm_spike_recovery");
  const PoisonedSamples poison(kPoison);
  checkpoint::OptimizerTensors automatic, manual;
  TrainState auto_state, manual_state;
  {
    Trainer t(tiny_run(recovery_run(dir + "/auto")), {.log_dir = dir + "/log_auto"});
    t.run();
    const auto& recoveries = t.spike_guard().state().recoveries;
    ASSERT_EQ(recoveries.size(), 1u);
    const checkpoint::RecoveryRecord& r = recoveries[0];
    EXPECT_EQ(r.spike_step, 16);
    EXPECT_EQ(r.step, 18);  // the third flagged step in a row
    EXPECT_EQ(r.rolled_back_to, 15);
    EXPECT_EQ(r.samples_begin, 120);
    EXPECT_EQ(r.samples_end, 144);
    auto_state = t.state();
    automatic = t.optimizer_tensors();
    automatic.master = automatic.master.clone();
    automatic.exp_avg = automatic.exp_avg.clone();
    automatic.exp_avg_sq = automatic.exp_avg_sq.clone();
  }
  // The log and metrics.jsonl say what happened; the loss returns to its trend.
  std::vector<double> before, after;
  bool event = false;
  for (const auto& j : metrics(dir + "/log_auto")) {
    if (j.value("event", "") == "spike_recovery") {
      event = true;
      EXPECT_EQ(j["rolled_back_to"], 15);
      EXPECT_EQ(j["samples_begin"], 120);
    }
    if (!j.contains("loss") || j.contains("event") || j["loss"].is_null()) continue;
    const int step = j["step"];
    if (step >= 11 && step <= 15 && !event) before.push_back(j["loss"]);
    if (step >= 26 && event) after.push_back(j["loss"]);
  }
  EXPECT_TRUE(event) << "no spike_recovery event in metrics.jsonl";
  ASSERT_EQ(before.size(), 5u);
  ASSERT_EQ(after.size(), 5u);
  double b = 0, a = 0;
  for (int i = 0; i < 5; ++i) b += before[i], a += after[i];
  EXPECT_LT(a, b) << "the loss after the recovery is not below its level before the spike";
  // Later checkpoints carry the skip, so a resume from them repeats it.
  const auto meta = checkpoint::read_checkpoint_meta(
      checkpoint::resolve_checkpoint_dir(dir + "/auto", std::nullopt));
  EXPECT_EQ(meta.step, 30);
  EXPECT_EQ(meta.config["resume"]["skip_samples"], nlohmann::json::parse("[[120,144]]"));
  EXPECT_EQ(meta.spike_guard.recoveries.size(), 1u);

  // By hand: the same checkpoint, the same skip range, the same data (still poisoned).
  {
    std::vector<std::string> sets = recovery_run(dir + "/manual");
    sets.push_back("resume.skip_samples=[[120,144]]");
    Trainer t(tiny_run(sets), {.log_dir = dir + "/log_manual"});
    t.load(dir + "/auto", 15);
    t.run();
    EXPECT_TRUE(t.spike_guard().state().recoveries.empty());
    manual_state = t.state();
    manual = t.optimizer_tensors();
  }
  EXPECT_EQ(auto_state.step, manual_state.step);
  EXPECT_EQ(auto_state.consumed_samples, manual_state.consumed_samples);
  EXPECT_EQ(auto_state.skipped_steps, manual_state.skipped_steps);
  EXPECT_TRUE(bit_equal(automatic.master, manual.master)) << "master weights differ";
  EXPECT_TRUE(bit_equal(automatic.exp_avg, manual.exp_avg)) << "Adam m differs";
  EXPECT_TRUE(bit_equal(automatic.exp_avg_sq, manual.exp_avg_sq)) << "Adam v differs";
  fs::remove_all(dir);
}

TEST(SpikeRecovery, ASpentBudgetStopsWithACheckpointAndAClearError) {
  const std::string dir = temp_dir("glm_spike_budget");
  const PoisonedSamples poison("120:168");  // 6 steps: the skip of 3 meets 3 more
  std::vector<std::string> sets = recovery_run(dir + "/ckpt");
  sets.push_back("spike_guard.recovery.max_recoveries=1");
  Trainer t(tiny_run(sets), {.log_dir = dir + "/log"});
  try {
    t.run();
    ADD_FAILURE() << "the second spike must stop the run";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("max_recoveries"), std::string::npos) << what;
    EXPECT_NE(what.find("resume.skip_samples"), std::string::npos) << what;
  }
  EXPECT_EQ(t.spike_guard().state().recoveries.size(), 1u);
  const auto meta = checkpoint::read_checkpoint_meta(
      checkpoint::resolve_checkpoint_dir(dir + "/ckpt", std::nullopt));
  EXPECT_EQ(meta.step, t.state().step) << "no checkpoint of the step where it stopped";
  fs::remove_all(dir);
}

TEST(SpikeRecovery, WithoutACheckpointTheFlaggedLevelIsAccepted) {
  const std::string dir = temp_dir("glm_spike_nockpt");
  const PoisonedSamples poison(kPoison);
  std::vector<std::string> sets = recovery_run("");
  sets.push_back("train.train_iters=20");
  Trainer t(tiny_run(sets), {.log_dir = dir + "/log"});
  t.run();  // trains to the end
  EXPECT_EQ(t.state().step, 20);
  EXPECT_TRUE(t.spike_guard().state().recoveries.empty());
  bool impossible = false;
  for (const auto& j : metrics(dir + "/log"))
    impossible = impossible || j.value("event", "") == "spike_recovery_impossible";
  EXPECT_TRUE(impossible);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace glm::train
