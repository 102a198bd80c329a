// Checkpoints through the real programs, in separate processes (docs/design.md section 7,
// invariants 5-7): glm-train saves, a new glm-train resumes and matches one uninterrupted run
// bit for bit; SIGTERM mid-run saves and exits 0; a save killed midway leaves the previous
// checkpoint in charge, also when it was replacing a checkpoint of the same step; glm-ckpt
// verify exits 2 naming a broken file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "train_test_util.h"

namespace glm::checkpoint {
namespace {

namespace fs = std::filesystem;
using glm::testing::bit_equal;

const std::string kTrain = std::string(GLM_BINARY_DIR) + "/bin/glm-train";
const std::string kCkpt = std::string(GLM_BINARY_DIR) + "/bin/glm-ckpt";
const std::string kTiny = std::string(GLM_SOURCE_DIR) + "/configs/tiny.json";

// Starts a program with extra environment variables; stdout and stderr go to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Exit status, or 128 + signal number when killed.
int wait_for(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Result {
  int status;
  std::string output;
};

Result run(const std::vector<std::string>& args, const std::string& log,
           const std::vector<std::pair<std::string, std::string>>& env = {}) {
  int status = wait_for(spawn(args, log, env));
  return {status, slurp(log)};
}

// glm-train on the tiny config of the trainer tests (tiny_run) with dropout on, logging
// every step.
std::vector<std::string> train_args(const std::string& log_dir, std::vector<std::string> extra) {
  const std::string vocab = std::to_string(glm::testing::tiny_run().model.vocab_size);
  std::vector<std::string> a = {kTrain,
                                "--config",
                                kTiny,
                                "--data",
                                glm::testing::test_corpus(),
                                "--set",
                                "model.vocab_size=" + vocab,
                                "--set",
                                "train.log_interval=1",
                                "--set",
                                "train.eval_iters=1",
                                "--set",
                                "model.hidden_dropout=0.1",
                                "--log-dir",
                                log_dir};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// step -> loss from metrics.jsonl (a resumed run appends to the same kind of file).
std::map<std::int64_t, double> losses(const std::string& log_dir) {
  std::map<std::int64_t, double> out;
  std::ifstream in(log_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss") && j["loss"].is_number()) out[j["step"]] = j["loss"].get<double>();
  }
  return out;
}

std::string latest(const std::string& save) {
  std::string s = slurp(save + "/latest");
  return s.substr(0, s.find('\n'));
}

// The fp32 optimizer tensors of a checkpoint, read with the loader.
OptimizerTensors read_tensors(const std::string& dir, const modeldef::ParamLayout& layout) {
  CheckpointMeta m = read_checkpoint_meta(dir);
  verify_checkpoint_files(dir, m);
  OptimizerTensors t{&layout, Tensor::zeros({layout.total()}, DType::f32),
                     Tensor::zeros({layout.total()}, DType::f32),
                     Tensor::zeros({layout.total()}, DType::f32)};
  load_optimizer_tensors(dir, m, t);
  return t;
}

// Checkpoint `dir` holds exactly the reference run's final state, and the losses of steps
// (first, 20] equal the reference's bit for bit.
void expect_matches_reference(const std::string& dir, const std::map<std::int64_t, double>& got,
                              std::int64_t first, const std::string& ref_dir,
                              const std::map<std::int64_t, double>& ref) {
  for (std::int64_t s = first + 1; s <= 20; ++s) {
    ASSERT_TRUE(got.count(s) && ref.count(s)) << "no loss logged for step " << s;
    EXPECT_EQ(std::memcmp(&got.at(s), &ref.at(s), sizeof(double)), 0)
        << "step " << s << ": " << got.at(s) << " vs " << ref.at(s);
  }
  modeldef::ParamLayout layout(glm::testing::tiny_run().model, modeldef::ModelShard{});
  OptimizerTensors a = read_tensors(dir, layout), b = read_tensors(ref_dir, layout);
  EXPECT_TRUE(bit_equal(a.master, b.master)) << "master weights differ";
  EXPECT_TRUE(bit_equal(a.exp_avg, b.exp_avg)) << "Adam m differs";
  EXPECT_TRUE(bit_equal(a.exp_avg_sq, b.exp_avg_sq)) << "Adam v differs";
  CheckpointMeta ma = read_checkpoint_meta(dir), mb = read_checkpoint_meta(ref_dir);
  EXPECT_EQ(ma.consumed_samples, mb.consumed_samples);
  EXPECT_EQ(ma.adamw_steps, mb.adamw_steps);
  EXPECT_EQ(ma.loss_scaler, mb.loss_scaler);
}

// The reference: 20 uninterrupted steps in one process, saved at the end.
class CheckpointCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(
        (fs::temp_directory_path() / ("glm_ckpt_cli_" + std::to_string(::getpid()))).string());
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    Result r =
        run(train_args(*root_ + "/ref_log", {"--train-iters", "20", "--save", *root_ + "/ref"}),
            *root_ + "/ref.out");
    ASSERT_EQ(r.status, 0) << r.output;
    ref_losses_ = new std::map<std::int64_t, double>(losses(*root_ + "/ref_log"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete ref_losses_;
  }
  static std::string ref_dir() { return *root_ + "/ref/iter_00000020"; }
  static std::string* root_;
  static std::map<std::int64_t, double>* ref_losses_;
};
std::string* CheckpointCli::root_ = nullptr;
std::map<std::int64_t, double>* CheckpointCli::ref_losses_ = nullptr;

TEST_F(CheckpointCli, ASecondProcessResumesBitExactly) {
  const std::string save = *root_ + "/two", log = *root_ + "/two_log";
  Result a = run(train_args(log, {"--train-iters", "10", "--save", save}), *root_ + "/two_a.out");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(latest(save), "10");
  Result b = run(train_args(log, {"--train-iters", "20", "--load", save, "--save", save}),
                 *root_ + "/two_b.out");
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("loaded checkpoint"), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("saved checkpoint"), std::string::npos) << b.output;
  expect_matches_reference(save + "/iter_00000020", losses(log), 10, ref_dir(), *ref_losses_);
}

TEST_F(CheckpointCli, SigtermFinishesTheStepSavesExitsZeroAndResumesExactly) {
  const std::string save = *root_ + "/term", log = *root_ + "/term_log";
  // The run holds after step 2 (core/test_hold.h) until the signal arrives, so the stop
  // lands at step 2 however fast the machine is.
  const std::string release = *root_ + "/term.release";
  pid_t pid = spawn(train_args(log, {"--train-iters", "1000", "--save", save}),
                    *root_ + "/term.out", {{"GLM_TEST_HOLD", "after_step_2:" + release}});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  auto held = [&] {
    for (const auto& e : fs::directory_iterator(*root_))
      if (e.path().filename().string().rfind("term.release.held.", 0) == 0) return true;
    return false;
  };
  while (!held() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(held()) << slurp(*root_ + "/term.out");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_for(pid), 0) << slurp(*root_ + "/term.out");
  const std::int64_t k = std::stoll(latest(save));
  ASSERT_EQ(k, 2);
  EXPECT_NE(slurp(*root_ + "/term.out").find("stopped after step " + std::to_string(k)),
            std::string::npos);
  Result b = run(train_args(log + "2", {"--train-iters", "20", "--load", save, "--save", save}),
                 *root_ + "/term_b.out");
  ASSERT_EQ(b.status, 0) << b.output;
  expect_matches_reference(save + "/iter_00000020", losses(log + "2"), k, ref_dir(), *ref_losses_);
}

TEST_F(CheckpointCli, AKillDuringSaveLeavesThePreviousCheckpointInCharge) {
  const std::string save = *root_ + "/crash";
  ASSERT_EQ(run(train_args(*root_ + "/crash_log", {"--train-iters", "2", "--save", save}),
                *root_ + "/crash_a.out")
                .status,
            0);
  Result crashed =
      run(train_args(*root_ + "/crash_log", {"--train-iters", "4", "--load", save, "--save", save}),
          *root_ + "/crash_b.out", {{"GLM_TEST_CRASH_IN_SAVE", "after_files"}});
  EXPECT_EQ(crashed.status, 137) << crashed.output;
  EXPECT_EQ(latest(save), "2");
  EXPECT_TRUE(fs::exists(save + "/iter_00000004.tmp"));
  Result verify = run({kCkpt, "verify", save}, *root_ + "/crash_verify.out");
  EXPECT_EQ(verify.status, 0) << verify.output;
  EXPECT_NE(verify.output.find("iter_00000002"), std::string::npos) << verify.output;
  // The next run loads step 2, saves step 4 and clears the debris.
  Result again =
      run(train_args(*root_ + "/crash_log", {"--train-iters", "4", "--load", save, "--save", save}),
          *root_ + "/crash_c.out");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("loaded checkpoint " + save + "/iter_00000002"), std::string::npos)
      << again.output;
  EXPECT_EQ(latest(save), "4");
  EXPECT_FALSE(fs::exists(save + "/iter_00000004.tmp"));
}

// Re-saving a step that exists (here: a fresh run saving step 2 over an earlier run's step 2)
// killed between every pair of its file-system steps, with the one-step exchange and with the
// two-rename fallback: `latest` always names a checkpoint that verifies, and the next save
// completes and leaves no debris.
TEST_F(CheckpointCli, ReSavingAStepKilledAtAnyPointLeavesLatestVerifying) {
  const std::string save = *root_ + "/resave";
  ASSERT_EQ(run(train_args(*root_ + "/resave_log", {"--train-iters", "2", "--save", save}),
                *root_ + "/resave_a.out")
                .status,
            0);
  const std::vector<std::pair<std::string, bool>> points = {
      {"after_files", false},    {"after_meta", false},    {"before_latest", false},
      {"after_latest", false},   {"between_renames", true}, {"before_latest", true},
      {"after_latest", true}};
  int i = 0;
  for (const auto& [point, fallback] : points) {
    const std::string what = point + (fallback ? " (two-rename fallback)" : " (exchange)");
    std::vector<std::pair<std::string, std::string>> env = {{"GLM_TEST_CRASH_IN_SAVE", point}};
    if (fallback) env.push_back({"GLM_TEST_NO_RENAME_EXCHANGE", "1"});
    const std::string tag = *root_ + "/resave_" + std::to_string(i++);
    Result crashed =
        run(train_args(tag + "_log", {"--train-iters", "2", "--save", save}), tag + ".out", env);
    EXPECT_EQ(crashed.status, 137) << what << ": " << crashed.output;
    EXPECT_EQ(latest(save), "2") << what;
    Result verify = run({kCkpt, "verify", save}, tag + "_verify.out");
    EXPECT_EQ(verify.status, 0) << what << ": " << verify.output;
  }
  Result again = run(train_args(*root_ + "/resave_log", {"--train-iters", "2", "--save", save}),
                     *root_ + "/resave_z.out", {{"GLM_TEST_NO_RENAME_EXCHANGE", "1"}});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(run({kCkpt, "verify", save}, *root_ + "/resave_z_verify.out").status, 0);
  for (const auto& e : fs::directory_iterator(save))
    EXPECT_TRUE(e.path().extension() != ".tmp" && e.path().extension() != ".old")
        << e.path() << " left behind";
}

TEST_F(CheckpointCli, GlmCkptInspectsAndVerifiesAndExits2NamingABrokenFile) {
  Result inspect = run({kCkpt, "inspect", *root_ + "/ref"}, *root_ + "/inspect.out");
  EXPECT_EQ(inspect.status, 0) << inspect.output;
  const std::string embedding = fmt::format("[{}, 128]", glm::testing::tiny_run().model.vocab_size);
  for (const std::string& s : {std::string("step 20"), std::string("rank_00000.h5"),
                               std::string("embedding.weight"), embedding, std::string("dp 1")})
    EXPECT_NE(inspect.output.find(s), std::string::npos) << s << " not in:\n" << inspect.output;
  Result ok = run({kCkpt, "verify", ref_dir()}, *root_ + "/verify.out");
  EXPECT_EQ(ok.status, 0) << ok.output;

  auto broken = [&](const std::string& name, auto&& damage, const std::string& needle) {
    const std::string dir = *root_ + "/" + name;
    fs::copy(ref_dir(), dir, fs::copy_options::recursive);
    damage(dir + "/rank_00000.h5");
    Result r = run({kCkpt, "verify", dir}, *root_ + "/" + name + ".out");
    EXPECT_EQ(r.status, 2) << name << ": " << r.output;
    EXPECT_NE(r.output.find("rank_00000.h5"), std::string::npos) << name << ": " << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << name << ": " << r.output;
  };
  broken(
      "v_flip",
      [](const std::string& f) {
        std::fstream s(f, std::ios::in | std::ios::out | std::ios::binary);
        s.seekg(4096);
        const char c = static_cast<char>(s.get());
        s.seekp(4096);
        s.put(static_cast<char>(c ^ 0x10));
      },
      "SHA-256");
  broken(
      "v_trunc", [](const std::string& f) { fs::resize_file(f, 1000); }, "truncated");
  broken(
      "v_missing", [](const std::string& f) { fs::remove(f); }, "missing");
  EXPECT_EQ(run({kCkpt, "verify", *root_ + "/nothing"}, *root_ + "/nothing.out").status, 2);
  EXPECT_EQ(run({kCkpt, "frobnicate", ref_dir()}, *root_ + "/cmd.out").status, 2);
}

}  // namespace
}  // namespace glm::checkpoint
