// glm-plan against real CPU runs of glm-train (tiny.json with 4 layers, micro-batch 1, as
// tests/train/test_parallel_layouts.cpp): the planner's memory for rank 0's stage against
// the allocator's peak (metrics.jsonl memory_gb, core/allocator.h memory_stats) in four
// layouts, and its 1F1B bubble against the idle share the ranks measure (comm log:
// 1 - compute_s / step_s, what tests/bench/bench_parallel.sh reports).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "plan/memory_plan.h"
#include "train_test_util.h"

namespace glm {
namespace {

namespace fs = std::filesystem;

const std::string kTrain = std::string(GLM_BINARY_DIR) + "/bin/glm-train";
const std::string kTiny = std::string(GLM_SOURCE_DIR) + "/configs/tiny.json";
const std::vector<std::string> kSets = {"model.vocab_size=6016",    "model.num_layers=4",
                                        "train.micro_batch_size=1", "train.log_interval=1",
                                        "train.eval_interval=0",    "train.eval_iters=1"};
// Planned against measured peak, relative: the bound. Measured 2026-12-07: -2.2%
// (dp2), -3.3% (tp2), -0.8% (pp2), -2.4% (dp2 ZeRO-1), -1.2% (dp2 ZeRO-1 bf16) on an
// AVX512-BF16 CPU; the bf16 run on a CPU without it (AMD Zen 3, the linears widen to fp32
// copies) -12.8% before the plan counted those copies (gemm_widening), +3.1% since. The
// planner is low by the host-side
// tensors it does not model (target-row index tensors, evaluation batches), which are a
// visible share only of a model this small.
constexpr double kMemoryRelTol = 0.05;

struct PlanRun {
  int dp, tp, pp;
  bool zero;
  std::string precision = "fp32";
  std::string name() const {
    return fmt::format("d{}t{}p{}{}_{}", dp, tp, pp, zero ? "z" : "", precision);
  }
};

std::vector<nlohmann::json> jsonl(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

std::string run_train(const PlanRun& r) {
  const std::string out =
      (fs::temp_directory_path() / fmt::format("glm_plan_{}_{}", ::getpid(), r.name())).string();
  fs::remove_all(out);
  std::string cmd = fmt::format(
      "mpirun -n {} --oversubscribe -x OMP_NUM_THREADS=1 {} --config {} --data {} --dp {} --tp {} "
      "--pp {} --zero {} --precision {} --comm-log --log-dir {}/log --train-iters 3",
      r.dp * r.tp * r.pp, kTrain, kTiny, testing::test_corpus(), r.dp, r.tp, r.pp, r.zero ? 1 : 0,
      r.precision, out);
  for (const auto& s : kSets) cmd += " --set " + s;
  EXPECT_EQ(std::system((cmd + " > " + out + ".out 2>&1").c_str()), 0) << "see " << out << ".out";
  return out;
}

plan::StageMemory planned_stage0(const PlanRun& r, const config::RunConfig& rc) {
  plan::LayoutChoice l;
  l.parallel.dp = r.dp;
  l.parallel.tp = r.tp;
  l.parallel.pp = r.pp;
  l.parallel.zero = r.zero;
  l.micro_batch = rc.train.micro_batch_size;
  l.global_batch = rc.batch.global_batch_size;
  l.cuda = false;
  // This CPU's 16-bit GEMM path decides whether the linears widen their operands.
  l.gemm16_native = r.precision == "fp32" ||
                    kernels::gemm16_path(r.precision == "bf16" ? DType::bf16 : DType::f16) ==
                        kernels::Gemm16Path::native;
  return plan::plan_memory(rc.model, l, plan::storage_policy("as-built", r.precision)).at(0);
}

TEST(PlanMeasured, MemoryMatchesTheAllocatorInFiveRuns) {
  const config::RunConfig rc = testing::tiny_run(kSets);
  for (const PlanRun& r : {PlanRun{2, 1, 1, false}, PlanRun{1, 2, 1, false},
                           PlanRun{1, 1, 2, false}, PlanRun{2, 1, 1, true},
                           PlanRun{2, 1, 1, true, "bf16"}}) {
    const std::string out = run_train(r);
    const auto lines = jsonl(out + "/log/metrics.jsonl");
    double peak = 0;
    for (const auto& j : lines)
      if (j.contains("memory_gb")) peak = std::max(peak, j["memory_gb"].get<double>() * 1e9);
    const plan::StageMemory m = planned_stage0(r, rc);
    std::cout << r.name() << ": planned " << m.total() << " B, measured peak " << peak << " B ("
              << 100 * (m.total() / peak - 1) << "%)\n";
    EXPECT_GT(peak, 0) << r.name();
    EXPECT_NEAR(m.total(), peak, kMemoryRelTol * peak) << r.name();
    if (r.pp > 1) {
      // the measured idle share of the stages against (P-1)/(M+P-1)
      double idle = 0;
      int n = 0;
      for (int rank = 0; rank < r.pp; ++rank)
        for (const auto& j : jsonl(fmt::format("{}/log/comm_rank_{:05d}.jsonl", out, rank))) {
          idle += 1 - j["compute_s"].get<double>() / j["step_s"].get<double>();
          ++n;
        }
      idle /= n;
      const double M = rc.batch.global_batch_size / rc.train.micro_batch_size;
      const double bubble = (r.pp - 1) / (M + r.pp - 1);
      std::cout << r.name() << ": idle share " << idle << ", 1F1B bubble " << bubble << "\n";
      // A stage computes nothing during its bubble, so the bubble is a floor of the idle
      // share; the rest is the optimizer, collectives and waits of oversubscribed cores.
      EXPECT_GE(idle, bubble) << r.name();
    }
    fs::remove_all(out);
  }
}

}  // namespace
}  // namespace glm
