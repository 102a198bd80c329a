// Checkpoints in process (docs/design.md section 7, invariants 5 and 6): save + resume continues
// bit for bit in fp32 and fp16; the save protocol keeps `latest` and the last K; corrupt,
// truncated, partial or mismatching checkpoints are refused naming the file; the resume
// overrides and skip ranges do what README's "Checkpoints and resuming" says.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "optim/lr_schedule.h"
#include "train/trainer.h"
#include "train_test_util.h"

namespace glm::train {
namespace {

namespace fs = std::filesystem;
using glm::testing::bit_equal;
using glm::testing::temp_dir;
using glm::testing::tiny_run;


// The exactness runs exercise every piece of resumable state: dropout (keyed by step and
// sample), the lr warm-up and the batch ramp-up (functions of consumed samples), EGS, the
// spike guard's window, and in fp16 the dynamic loss scaler (a short growth window and the
// default 2^16 start, so the scale moves on both sides of the checkpoint); bf16 runs the
// same with 16-bit activations and no scaler.
std::vector<std::string> exactness_overrides(const std::string& precision) {
  std::vector<std::string> o = {"model.hidden_dropout=0.1",   "model.attention_dropout=0.1",
                                "batch.rampup_start=4",       "batch.rampup_increment=4",
                                "batch.rampup_samples=48",    "spike_guard.enabled=true",
                                "spike_guard.window=6",       "spike_guard.min_history=3",
                                "spike_guard.z_threshold=50", "train.train_iters=20"};
  o.push_back("train.precision=\"" + precision + "\"");
  if (precision == "fp16") o.push_back("optim.loss_scale_window=4");
  return o;
}

struct RunRecord {
  std::vector<double> losses;  // per step
  Tensor master, exp_avg, exp_avg_sq, params;
  TrainState state;
  checkpoint::LossScalerState scaler;
  checkpoint::SpikeGuardState guard;
  std::int64_t adamw_steps = 0;
};

RunRecord record(Trainer& t, std::vector<double> losses) {
  RunRecord r;
  r.losses = std::move(losses);
  checkpoint::OptimizerTensors o = t.optimizer_tensors();
  r.master = o.master.clone();
  r.exp_avg = o.exp_avg.clone();
  r.exp_avg_sq = o.exp_avg_sq.clone();
  r.params = t.model().params().flat().clone();
  r.state = t.state();
  r.scaler = t.loss_scaler().state();
  r.guard = t.spike_guard().state();
  r.adamw_steps = t.optimizer().step_count();
  return r;
}

void expect_bit_identical(const RunRecord& a, const RunRecord& b) {
  ASSERT_EQ(a.losses.size(), b.losses.size());
  for (std::size_t i = 0; i < a.losses.size(); ++i)
    EXPECT_EQ(std::memcmp(&a.losses[i], &b.losses[i], sizeof(double)), 0)
        << "step " << i + 11 << ": " << a.losses[i] << " vs " << b.losses[i];
  EXPECT_TRUE(bit_equal(a.master, b.master)) << "fp32 master weights differ";
  EXPECT_TRUE(bit_equal(a.exp_avg, b.exp_avg)) << "Adam m differs";
  EXPECT_TRUE(bit_equal(a.exp_avg_sq, b.exp_avg_sq)) << "Adam v differs";
  EXPECT_TRUE(bit_equal(a.params, b.params)) << "model parameters differ";
  EXPECT_EQ(a.state.step, b.state.step);
  EXPECT_EQ(a.state.consumed_samples, b.state.consumed_samples);
  EXPECT_EQ(a.state.skipped_steps, b.state.skipped_steps);
  EXPECT_EQ(a.scaler, b.scaler);
  EXPECT_EQ(a.guard, b.guard);
  EXPECT_EQ(a.adamw_steps, b.adamw_steps);
}

// 20 steps in one go == 10 steps, save, a fresh Trainer that loads, 10 more steps. A
// background save ("async") is published only after two more steps have changed the live
// state: the checkpoint must hold the step-10 snapshot.
void check_resume_is_bit_exact(const std::string& precision, const std::string& name,
                               const std::string& save_mode = "sync") {
  const bool fp16 = precision == "fp16";
  std::vector<std::string> overrides = exactness_overrides(precision);
  overrides.push_back("train.save_mode=\"" + save_mode + "\"");
  config::RunConfig rc = tiny_run(overrides);
  const std::string dir = temp_dir(name);
  RunRecord whole, resumed;
  {
    Trainer t(rc, {.log_dir = dir + "/log_whole"});
    std::vector<double> losses;
    for (int s = 0; s < 20; ++s) {
      StepResult r = t.train_step();
      if (s >= 10) losses.push_back(r.loss);
    }
    whole = record(t, losses);
  }
  {
    Trainer t(rc, {.log_dir = dir + "/log_first"});
    for (int s = 0; s < 10; ++s) t.train_step();
    t.save(dir + "/ckpt");
    if (save_mode == "async") {
      EXPECT_FALSE(fs::exists(dir + "/ckpt/latest")) << "published before finishing";
      t.train_step();
      t.train_step();
      t.finish_background_save();
    }
  }
  {
    Trainer t(rc, {.log_dir = dir + "/log_second"});
    t.load(dir + "/ckpt");
    EXPECT_EQ(t.state().step, 10);
    std::vector<double> losses;
    for (int s = 0; s < 10; ++s) losses.push_back(t.train_step().loss);
    resumed = record(t, losses);
  }
  expect_bit_identical(whole, resumed);
  // The run is not degenerate: most steps trained, and in fp16 the scale grew (the
  // checkpoint lands mid-window, so the growth tracker must survive the resume).
  EXPECT_LT(whole.state.skipped_steps, 5);
  if (fp16) EXPECT_GT(whole.scaler.scale, 65536.0) << "the loss scale never grew";
  fs::remove_all(dir);
}

TEST(Checkpoint, ResumeIsBitExactFp32) { check_resume_is_bit_exact("fp32", "glm_ckpt_exact32"); }
TEST(Checkpoint, ResumeIsBitExactFp16) { check_resume_is_bit_exact("fp16", "glm_ckpt_exact16"); }
TEST(Checkpoint, ResumeIsBitExactBf16) { check_resume_is_bit_exact("bf16", "glm_ckpt_exact_bf16"); }
TEST(Checkpoint, BackgroundSaveHoldsItsStepAndResumesBitExactly) {
  check_resume_is_bit_exact("fp16", "glm_ckpt_exact_async", "async");
}

// A checkpoint holds the fp32 master weights and moments whatever the run's precision, so a
// bf16 checkpoint resumes in fp32 and in fp16: the same state (master, moments, step,
// samples), a fresh loss scaler for fp16, and a next step that trains.
TEST(Checkpoint, Bf16CheckpointLoadsIntoFp32AndFp16Runs) {
  const std::string dir = temp_dir("glm_ckpt_bf16_cross");
  RunRecord saved;
  {
    Trainer t(tiny_run(exactness_overrides("bf16")), {.log_dir = dir + "/log_bf16"});
    for (int s = 0; s < 6; ++s) t.train_step();
    t.save(dir + "/ckpt");
    saved = record(t, {});
  }
  for (const std::string p : {"fp32", "fp16"}) {
    std::vector<std::string> o = exactness_overrides("bf16");
    o.push_back("train.precision=\"" + p + "\"");  // the only key that changes
    Trainer t(tiny_run(o), {.log_dir = dir + "/log_" + p});
    t.load(dir + "/ckpt");
    const RunRecord r = record(t, {});
    EXPECT_TRUE(bit_equal(r.master, saved.master)) << p;
    EXPECT_TRUE(bit_equal(r.exp_avg, saved.exp_avg)) << p;
    EXPECT_TRUE(bit_equal(r.exp_avg_sq, saved.exp_avg_sq)) << p;
    EXPECT_EQ(r.state.step, 6) << p;
    EXPECT_EQ(r.state.consumed_samples, saved.state.consumed_samples) << p;
    // bf16 has no loss scaler to continue from: fp16 starts at its initial 2^16.
    EXPECT_EQ(t.loss_scaler().scale(), p == "fp16" ? 65536.0 : 1.0) << p;
    const StepResult next = t.train_step();
    EXPECT_FALSE(next.skipped) << p << ": " << next.skip_reason;
    EXPECT_TRUE(std::isfinite(next.loss)) << p;
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, SavesEveryIntervalKeepsTheLastKAndPointsLatestAtTheNewest) {
  const std::string dir = temp_dir("glm_ckpt_keep");
  config::RunConfig rc =
      tiny_run({"train.train_iters=5", "train.save_interval=1", "train.keep_last=2",
                "train.save_dir=\"" + dir + "/ckpt\""});
  fs::create_directories(dir + "/ckpt/iter_00000003.tmp");  // as left by a crashed save
  Trainer t(rc, {.log_dir = dir + "/log"});
  t.run();
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir + "/ckpt")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"iter_00000004", "iter_00000005", "latest"}));
  std::ifstream latest(dir + "/ckpt/latest");
  std::string text;
  latest >> text;
  EXPECT_EQ(text, "5");
  checkpoint::CheckpointMeta m = checkpoint::read_checkpoint_meta(
      checkpoint::resolve_checkpoint_dir(dir + "/ckpt", std::nullopt));
  EXPECT_EQ(m.step, 5);
  EXPECT_EQ(m.consumed_samples, 40);
  checkpoint::verify_checkpoint_files(dir + "/ckpt/iter_00000005", m);
  checkpoint::verify_checkpoint_pieces(dir + "/ckpt/iter_00000005", m);
  EXPECT_EQ(checkpoint::resolve_checkpoint_dir(dir + "/ckpt", 4), dir + "/ckpt/iter_00000004");
  // metrics.jsonl records each save with its time and size.
  std::ifstream metrics(dir + "/log/metrics.jsonl");
  int saves = 0;
  for (std::string line; std::getline(metrics, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "save") {
      ++saves;
      EXPECT_GT(j["bytes"].get<std::int64_t>(), 0);
      EXPECT_TRUE(j.contains("seconds"));
    }
  }
  EXPECT_EQ(saves, 5);
  fs::remove_all(dir);
}

// keep_last follows the run's lineage: after a resume from step 4 of a directory holding 2..10,
// the new saves of 6 and 8 replace the abandoned ones, the resume point stays, only the
// lineage's older checkpoint (2) is pruned, and the abandoned 10 is kept and reported.
TEST(Checkpoint, KeepLastPrunesAlongTheLineageAndKeepsAnAbandonedBranch) {
  const std::string dir = temp_dir("glm_ckpt_lineage");
  const std::string ckpt = dir + "/ckpt";
  {
    config::RunConfig a = tiny_run({"train.train_iters=10", "train.save_interval=2",
                                    "train.keep_last=0", "train.save_dir=\"" + ckpt + "\""});
    Trainer t(a, {.log_dir = dir + "/log_a"});
    t.run();
  }
  auto steps = [&] {
    std::vector<std::int64_t> v;
    for (const auto& e : fs::directory_iterator(ckpt)) {
      const std::int64_t s = checkpoint::parse_iter_dir_name(e.path().filename().string());
      if (s >= 0) v.push_back(s);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  ASSERT_EQ(steps(), (std::vector<std::int64_t>{2, 4, 6, 8, 10}));
  config::RunConfig b = tiny_run({"train.train_iters=10", "train.keep_last=2"});
  Trainer t(b, {.log_dir = dir + "/log_b"});
  t.load(ckpt, 4);
  t.train_step();
  t.train_step();
  checkpoint::SaveResult r6 = t.save(ckpt);
  EXPECT_EQ(steps(), (std::vector<std::int64_t>{4, 6, 8, 10}));
  EXPECT_EQ(r6.off_lineage.size(), 2u) << "8 and 10 belong to the abandoned branch";
  t.train_step();
  t.train_step();
  checkpoint::SaveResult r8 = t.save(ckpt);
  EXPECT_EQ(steps(), (std::vector<std::int64_t>{4, 6, 8, 10}))
      << "6 and 8 are the newest two of the lineage, 4 the resume point";
  ASSERT_EQ(r8.off_lineage.size(), 1u);
  EXPECT_NE(r8.off_lineage[0].find("iter_00000010"), std::string::npos);
  const checkpoint::CheckpointMeta m8 = checkpoint::read_checkpoint_meta(ckpt + "/iter_00000008");
  EXPECT_EQ(m8.parent_step, 6);
  EXPECT_EQ(m8.resumed_from, 4);
  fs::remove_all(dir);
}

// One saved checkpoint (2 steps of the tiny config), copied for each way of breaking it.
class BrokenCheckpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("glm_ckpt_broken"));
    Trainer t(tiny_run(), {.log_dir = *root_ + "/log"});
    t.train_step();
    t.train_step();
    t.save(*root_ + "/good");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  // A fresh copy of the good save directory; returns its checkpoint directory.
  std::string copy(const std::string& name) {
    fs::remove_all(*root_ + "/" + name);
    fs::copy(*root_ + "/good", *root_ + "/" + name, fs::copy_options::recursive);
    return *root_ + "/" + name + "/iter_00000002";
  }
  // Loading `save_dir` into a fresh trainer fails with an InputError whose message holds
  // every one of `needles`.
  void expect_refused(const std::string& save_dir, const std::vector<std::string>& needles,
                      const config::RunConfig& rc = tiny_run()) {
    Trainer t(rc, {.log_dir = *root_ + "/log"});
    try {
      t.load(save_dir);
      ADD_FAILURE() << "loading " << save_dir << " did not fail";
    } catch (const InputError& e) {
      for (const auto& n : needles)
        EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
            << "'" << n << "' not in: " << e.what();
    }
  }
  static std::string* root_;
};
std::string* BrokenCheckpoint::root_ = nullptr;

TEST_F(BrokenCheckpoint, TheIntactOneLoadsAndVerifies) {
  Trainer t(tiny_run(), {.log_dir = *root_ + "/log"});
  t.load(*root_ + "/good");
  EXPECT_EQ(t.state().step, 2);
  EXPECT_EQ(t.state().consumed_samples, 16);
  checkpoint::CheckpointMeta m = checkpoint::read_checkpoint_meta(*root_ + "/good/iter_00000002");
  EXPECT_NO_THROW(checkpoint::verify_checkpoint_pieces(*root_ + "/good/iter_00000002", m));
}

// Checkpoint files are read into host memory only: device tensors (a GPU trainer that forgot
// its host copies) are refused by name instead of HDF5 writing through a device pointer.
// The tensors are host memory labelled as CUDA, so the check runs without a GPU.
TEST_F(BrokenCheckpoint, DeviceTensorsAreRefusedNamingHostMemory) {
  Trainer t(tiny_run(), {.log_dir = *root_ + "/log"});
  const std::string dir = *root_ + "/good/iter_00000002";
  const checkpoint::CheckpointMeta m = checkpoint::read_checkpoint_meta(dir);
  const auto& layout = t.model().layout();
  std::vector<float> host(3 * static_cast<std::size_t>(layout.total()));
  auto labelled = [&](int i) {
    return Tensor::wrap(host.data() + i * layout.total(), {layout.total()}, DType::f32,
                        Device::cuda(0));
  };
  try {
    checkpoint::load_optimizer_tensors(dir, m, {&layout, labelled(0), labelled(1), labelled(2)});
    FAIL() << "device tensors were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be in host memory"), std::string::npos) << e.what();
  }
}

TEST_F(BrokenCheckpoint, AFlippedByteFailsTheChecksumNamingTheFile) {
  std::string dir = copy("flipped");
  glm::testing::flip_middle_byte(dir + "/rank_00000.h5");
  expect_refused(*root_ + "/flipped", {"rank_00000.h5", "SHA-256"});
}

TEST_F(BrokenCheckpoint, ATruncatedFileIsRefusedNamingIt) {
  std::string dir = copy("truncated");
  fs::resize_file(dir + "/rank_00000.h5", fs::file_size(dir + "/rank_00000.h5") / 3);
  expect_refused(*root_ + "/truncated", {"rank_00000.h5", "truncated"});
}

TEST_F(BrokenCheckpoint, AMissingRankFileIsRefusedNamingIt) {
  std::string dir = copy("missing");
  fs::remove(dir + "/rank_00000.h5");
  expect_refused(*root_ + "/missing", {"rank_00000.h5", "missing"});
}

TEST_F(BrokenCheckpoint, ACorruptMetaJsonOrLatestIsRefusedNamingIt) {
  std::string dir = copy("badmeta");
  std::ofstream(dir + "/meta.json", std::ios::trunc) << "{\"format\": \"glm-train-checkpoint\", ";
  expect_refused(*root_ + "/badmeta", {"meta.json", "not valid JSON"});
  copy("badlatest");
  std::ofstream(*root_ + "/badlatest/latest", std::ios::trunc) << "7\n";
  expect_refused(*root_ + "/badlatest", {"latest", "iter_00000007"});
}

TEST_F(BrokenCheckpoint, AConfigThatDoesNotMatchIsRefusedNamingMetaJsonAndTheKeys) {
  expect_refused(*root_ + "/good", {"meta.json", "model.hidden_size", "model.num_heads"},
                 tiny_run({"model.hidden_size=64", "model.num_heads=2"}));
  expect_refused(*root_ + "/good", {"meta.json", "model.num_layers"},
                 tiny_run({"model.num_layers=3"}));
  expect_refused(*root_ + "/good", {"meta.json", "optim.lr", "resume.lr"},
                 tiny_run({"optim.lr=0.01"}));
}

TEST_F(BrokenCheckpoint, ResumeOverridesAreAppliedAndRunSettingsMayChange) {
  config::RunConfig rc = tiny_run({"train.train_iters=7", "train.eval_iters=3", "resume.lr=0.001",
                           "resume.lr_min=0.0001", "resume.egs_alpha=0.5"});
  Trainer t(rc, {.log_dir = *root_ + "/log"});
  t.load(*root_ + "/good");
  EXPECT_EQ(t.config().optim.lr, 0.001);
  EXPECT_EQ(t.config().optim.lr_min, 0.0001);
  EXPECT_EQ(optim::egs_alpha(t.config().egs_schedule, 100), 0.5);
  EXPECT_EQ(t.config().train.train_iters, 7);
  EXPECT_EQ(t.checkpoint_meta().config["optim"]["lr"], 0.001);  // saved with the new value
}

TEST(Checkpoint, ResumeLossScaleOverrideSetsTheScale) {
  const std::string dir = temp_dir("glm_ckpt_scale");
  config::RunConfig rc = tiny_run({"train.precision=\"fp16\"", "optim.initial_loss_scale=1024"});
  {
    Trainer t(rc, {.log_dir = dir + "/log"});
    t.train_step();
    t.save(dir + "/ckpt");
  }
  config::RunConfig over = tiny_run(
      {"train.precision=\"fp16\"", "optim.initial_loss_scale=1024", "resume.loss_scale=256"});
  Trainer t(over, {.log_dir = dir + "/log"});
  t.load(dir + "/ckpt");
  EXPECT_EQ(t.loss_scaler().scale(), 256.0);
  fs::remove_all(dir);
}

TEST(Checkpoint, SkipItersConsumeTheirSamplesWithoutTraining) {
  const std::string dir = temp_dir("glm_ckpt_skip_iters");
  Trainer t(tiny_run({"resume.skip_iters=[[1,3]]"}), {.log_dir = dir});
  EXPECT_FALSE(t.train_step().skipped);
  Tensor before = t.model().params().flat().clone();
  StepResult r = t.train_step();
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.skip_reason, "resume.skip_iters");
  EXPECT_TRUE(t.train_step().skipped);
  EXPECT_TRUE(bit_equal(before, t.model().params().flat())) << "a skipped step changed weights";
  EXPECT_FALSE(t.train_step().skipped);
  EXPECT_EQ(t.state().step, 4);
  EXPECT_EQ(t.state().consumed_samples, 32);
  EXPECT_EQ(t.state().skipped_steps, 2);
  EXPECT_EQ(t.optimizer().step_count(), 2);
  fs::remove_all(dir);
}

TEST(Checkpoint, SkipSamplesMoveTheBatchPastTheRange) {
  // Global batch 8: step 0 trains [0, 8); step 1 would take [8, 16), which overlaps [10, 12),
  // so it jumps to 12 and trains [12, 20): 20 samples consumed after two steps.
  const std::string dir = temp_dir("glm_ckpt_skip_samples");
  Trainer t(tiny_run({"resume.skip_samples=[[10,12]]"}), {.log_dir = dir + "/a"});
  t.train_step();
  StepResult r = t.train_step();
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(t.state().consumed_samples, 20);
  EXPECT_EQ(t.state().step, 2);
  fs::remove_all(dir);
}

TEST(Checkpoint, BadResumeSectionsAreReportedByKey) {
  try {
    tiny_run({"resume.skip_iters=[[5,2]]", "resume.lr=-1", "resume.typo=1"});
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const char* k : {"resume.skip_iters", "resume.lr", "resume.typo"})
      EXPECT_NE(msg.find(k), std::string::npos) << k << " not in: " << msg;
  }
}

}  // namespace
}  // namespace glm::train
