// glm-train as users run it: under mpirun, writing metrics.jsonl with the keys of docs/design.md
// section 10, and exiting 2 with a message that names the problem on bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "train_test_util.h"

namespace glm {
namespace {

// The command's exit status and its stdout and stderr together.
test::CommandResult run(const std::string& cmd) { return test::run_command(cmd + " 2>&1"); }

const std::string kTrain = std::string(GLM_BINARY_DIR) + "/bin/glm-train";
const std::string kTiny = std::string(GLM_SOURCE_DIR) + "/configs/tiny.json";

TEST(GlmTrainCli, TrainsUnderMpirunAndWritesMetrics) {
  auto log = std::filesystem::temp_directory_path() / ("glm_cli_log_" + std::to_string(::getpid()));
  std::filesystem::remove_all(log);
  test::CommandResult r = run("mpirun -n 1 --oversubscribe " + kTrain + " --config " + kTiny + " --data " +
                 testing::test_corpus() + " --train-iters 4 --set model.vocab_size=6016 " +
                 "--set train.log_interval=2 --set train.eval_iters=2 --log-dir " + log.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("held-out loss"), std::string::npos) << r.output;
  std::ifstream in(log / "metrics.jsonl");
  int steps = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("loss")) continue;
    ++steps;
    for (const char* k : {"step", "loss", "lr", "grad_norm", "loss_scale", "skipped",
                          "tokens_per_s", "step_ms", "tflops", "mfu"})
      EXPECT_TRUE(j.contains(k)) << k << " missing in " << line;
  }
  EXPECT_EQ(steps, 2);
  std::filesystem::remove_all(log);
}

TEST(GlmTrainCli, BadInputExitsTwoNamingTheProblem) {
  test::CommandResult r = run(kTrain + " --config /nonexistent.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("/nonexistent.json"), std::string::npos) << r.output;

  r = run(kTrain + " --config " + kTiny + " --set train.precision=fp8");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("train.precision"), std::string::npos) << r.output;

  r = run(kTrain + " --config " + kTiny + " --set optim.lr_warmup_samples=-5");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("optim.lr_warmup_samples"), std::string::npos) << r.output;

  r = run(kTrain + " --config " + kTiny + " --dp 2");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("world size 1"), std::string::npos) << r.output;

  r = run(kTrain + " --bogus-option");
  EXPECT_EQ(r.status, 2);
}

}  // namespace
}  // namespace glm
