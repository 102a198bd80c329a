// Data parallelism through the real glm-train under mpirun: dp 2 and dp 4, with and without
// ZeRO-1, match the
// single-process run (invariant 3: losses within 1e-5 relative, parameters within 1e-4),
// with dropout on (its masks are keyed by global sample, not by rank); a DP checkpoint
// resumes in another DP size; a killed rank ends the whole job promptly, naming it.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "modeldef/param_layout.h"
#include "train_test_util.h"

namespace glm {
namespace {

namespace fs = std::filesystem;

// docs/design.md invariant 3.
constexpr double kLossRelTol = 1e-5;
constexpr double kParamRelTol = 1e-4;

const std::string kTrain = std::string(GLM_BINARY_DIR) + "/bin/glm-train";
const std::string kTiny = std::string(GLM_SOURCE_DIR) + "/configs/tiny.json";

std::string base_dir() {
  return (fs::temp_directory_path() / ("glm_dp_" + std::to_string(::getpid()))).string();
}

std::string train_cmd(int ranks, const std::string& out, const std::string& extra) {
  return "mpirun -n " + std::to_string(ranks) + " --oversubscribe -x OMP_NUM_THREADS=1 " + kTrain +
         " --config " + kTiny + " --data " + testing::test_corpus() + " --dp " +
         std::to_string(ranks) +
         " --set model.vocab_size=6016 --set train.micro_batch_size=2"
         " --set model.hidden_dropout=0.1 --set model.attention_dropout=0.1"
         " --set train.log_interval=1 --set train.eval_interval=0 --set train.eval_iters=2"
         " --log-dir " + out + "/log --save " + out + "/ckpt " + extra + " > " + out +
         ".out 2>&1";
}

std::vector<double> losses(const std::string& out) {
  std::vector<double> l;
  std::ifstream in(out + "/log/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) l.push_back(j["loss"].get<double>());
  }
  return l;
}

// Largest |a - b| / max|a| over the master weights of two checkpoints at `iter` (whole or
// ZeRO-cut pieces, re-cut into one process by the loader).
double param_rel_diff(const std::string& a, const std::string& b, int iter) {
  const config::RunConfig rc = testing::tiny_run();
  const Tensor x = testing::checkpoint_master(a + "/ckpt", iter, rc.model);
  const Tensor y = testing::checkpoint_master(b + "/ckpt", iter, rc.model);
  const modeldef::ParamLayout layout(rc.model, {});
  double worst = 0;
  for (const auto& s : layout.specs()) {
    double scale = 0, diff = 0;
    for (std::int64_t i = s.offset; i < s.offset + s.numel(); ++i) {
      scale = std::max(scale, double(std::abs(x.data<float>()[i])));
      diff = std::max(diff, double(std::abs(x.data<float>()[i] - y.data<float>()[i])));
    }
    if (scale > 0) worst = std::max(worst, diff / scale);
  }
  return worst;
}

TEST(DataParallel, Dp2AndDp4MatchOneProcess) {
  const std::string base = base_dir();
  fs::remove_all(base);
  fs::create_directories(base);
  for (int n : {1, 2, 4}) {
    std::string out = base + "/dp" + std::to_string(n);
    ASSERT_EQ(std::system(train_cmd(n, out, "--train-iters 10").c_str()), 0)
        << "see " << out << ".out";
    if (n == 1) continue;
    out = base + "/zero" + std::to_string(n);  // ZeRO-1: sharded optimizer state
    ASSERT_EQ(std::system(train_cmd(n, out, "--train-iters 10 --zero 1").c_str()), 0)
        << "see " << out << ".out";
  }
  std::vector<double> l1 = losses(base + "/dp1");
  ASSERT_EQ(l1.size(), 10u);
  for (std::string run : {"dp2", "dp4", "zero2", "zero4"}) {
    const std::string out = base + "/" + run;
    const std::string n = run;
    std::vector<double> ln = losses(out);
    ASSERT_EQ(ln.size(), l1.size());
    for (std::size_t s = 0; s < l1.size(); ++s)
      EXPECT_NEAR(ln[s], l1[s], kLossRelTol * l1[s]) << n << " step " << s + 1;
    EXPECT_LT(param_rel_diff(base + "/dp1", out, 10), kParamRelTol) << n;
  }
  // A dp2 checkpoint resumes in one process (DP state is replicated, stored once) and
  // continues like the dp1 run resumed from its own checkpoint.
  std::string r1 = base + "/resume1", r2 = base + "/resume2";
  ASSERT_EQ(std::system(train_cmd(1, r1, "--train-iters 12 --load " + base + "/dp1/ckpt").c_str()), 0);
  ASSERT_EQ(std::system(train_cmd(1, r2, "--train-iters 12 --load " + base + "/dp2/ckpt").c_str()), 0);
  EXPECT_LT(param_rel_diff(r1, r2, 12), kParamRelTol);
  // A ZeRO-1 checkpoint (one shard file per rank) resumes in dp2 without ZeRO.
  std::string r3 = base + "/resume3";
  ASSERT_EQ(std::system(train_cmd(2, r3, "--train-iters 12 --load " + base + "/zero4/ckpt").c_str()), 0);
  EXPECT_LT(param_rel_diff(r1, r3, 12), kParamRelTol);
  fs::remove_all(base);
}

TEST(DataParallel, KilledRankEndsTheJobNamingIt) {
  const std::string base = base_dir() + "_kill";
  fs::remove_all(base);
  fs::create_directories(base);
  const std::string out = base + "/run";
  // A long run in the background; its ranks are found by their unique log directory.
  std::string cmd = "timeout 120 " + train_cmd(2, out, "--train-iters 100000") + " & echo $!";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  pclose(p);
  // The glm-train rank processes of this run (not mpirun, not the shell around it).
  auto ranks_alive = [&] {
    std::vector<int> pids;
    FILE* q = popen("pgrep -x glm-train", "r");
    for (int pid; fscanf(q, "%d", &pid) == 1;) {
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
      if (args.find(out + "/log") != std::string::npos) pids.push_back(pid);
    }
    pclose(q);
    return pids;
  };
  // Wait until training has logged a step, then kill one rank's process outright.
  for (int i = 0; i < 600 && losses(out).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_FALSE(losses(out).empty()) << "training never started; see " << out << ".out";
  std::vector<int> pids = ranks_alive();
  ASSERT_EQ(pids.size(), 2u);
  ::kill(pids.back(), SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  while (!ranks_alive().empty() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(waited, 60) << "processes still running after a rank was killed";
  std::ifstream in(out + ".out");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("rank"), std::string::npos) << text;
  EXPECT_NE(text.find("signal 9"), std::string::npos) << text;
  fs::remove_all(base);
}

}  // namespace
}  // namespace glm
