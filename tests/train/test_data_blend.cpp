// Blended training data (train.data, data/blend.h) through the pipeline and the trainer, on
// three datasets prepared with the bundled corpus's tokenizer from different Debian fortune
// files: "en" (computers, science), "zh" (Tang and Song poems) and a small "mip" (riddles).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "data/data_pipeline.h"
#include "data/preprocess.h"
#include "train/trainer.h"
#include "train/training_data.h"
#include "train_test_util.h"

namespace glm::train {
namespace {

namespace fs = std::filesystem;
const std::string kFortunes = "/usr/share/games/fortunes/";

// The three datasets, prepared once per test process (ctest runs tests in parallel
// processes: each prepares its own, in under a second).
const std::string& blend_root() {
  static const std::string root = [] {
    const std::string r = glm::testing::temp_dir("glm_blend_datasets");
    const std::string tok = glm::testing::test_corpus() + "/tokenizer.model";
    const std::vector<std::pair<std::string, std::vector<std::string>>> sets = {
        {"en", {kFortunes + "computers", kFortunes + "science"}},
        {"zh", {kFortunes + "tang300", kFortunes + "song100"}},
        {"mip", {kFortunes + "riddles"}}};
    for (const auto& [name, inputs] : sets)
      data::preprocess({.inputs = inputs,
                        .output_dir = r + "/" + name,
                        .tokenizer_model = tok,
                        .valid_fraction = 0.1,
                        .force = true});
    return r;
  }();
  return root;
}

std::string blend_json(double en, double zh, double mip) {
  const std::string r = blend_root();
  return fmt::format(
      "train.data=[{{\"path\": \"{0}/en\", \"weight\": {1}}}, {{\"path\": \"{0}/zh\", "
      "\"weight\": {2}}}, {{\"path\": \"{0}/mip\", \"weight\": {3}}}]",
      r, en, zh, mip);
}

config::RunConfig blended_run(double en, double zh, double mip,
                              std::vector<std::string> more = {}) {
  more.insert(more.begin(), {"train.data_dir=\"\"", blend_json(en, zh, mip)});
  return glm::testing::tiny_run(more);
}

bool same_batch(const modeldef::Batch& a, const modeldef::Batch& b) {
  return glm::testing::bit_equal(a.tokens, b.tokens) &&
         glm::testing::bit_equal(a.positions, b.positions) &&
         glm::testing::bit_equal(a.targets, b.targets) &&
         glm::testing::bit_equal(a.prefix_len, b.prefix_len) &&
         glm::testing::bit_equal(a.valid_len, b.valid_len);
}

// A blend of one dataset is the one-dataset stream; a blend's micro-batch is a pure function
// of its first sample (a data-parallel rank's slice of a global batch equals that part of
// the whole batch, asked in any order); the shares follow the weights, and "mip", far smaller
// than its weight, is read over several of its own epochs.
TEST(DataBlend, BatchesArePureFunctionsOfTheSampleIndex) {
  const config::RunConfig rc = blended_run(0.6, 0.3, 0.1);
  const data::Tokenizer tok = run_tokenizer(rc);
  const std::uint64_t seed = 7;
  const int T = rc.model.seq_length;
  {
    const std::vector<data::BlendSource> one = {rc.train.data[0]};
    data::DataPipeline a(one, "train", tok, rc.objective, T, seed);
    data::DataPipeline b(one[0].path, "train", tok, rc.objective, T, seed);
    EXPECT_TRUE(same_batch(a.micro_batch(5, 8), b.micro_batch(5, 8)));
  }
  data::DataPipeline whole(rc.train.data, "train", tok, rc.objective, T, seed);
  data::DataPipeline parts(rc.train.data, "train", tok, rc.objective, T, seed);
  const modeldef::Batch all = whole.micro_batch(96, 16);
  const modeldef::Batch late = parts.micro_batch(104, 8), early = parts.micro_batch(96, 8);
  for (int i = 0; i < 8; ++i) {
    const std::int64_t n = T;
    EXPECT_EQ(std::memcmp(all.tokens.data<std::int32_t>() + i * n,
                          early.tokens.data<std::int32_t>() + i * n, n * 4),
              0)
        << i;
    EXPECT_EQ(std::memcmp(all.tokens.data<std::int32_t>() + (8 + i) * n,
                          late.tokens.data<std::int32_t>() + i * n, n * 4),
              0)
        << i;
  }
  const std::int64_t G = 4000;
  const std::vector<std::int64_t> n = whole.samples_per_dataset(G);
  EXPECT_NEAR(n[0], 0.6 * G, 1.0);
  EXPECT_NEAR(n[1], 0.3 * G, 1.0);
  EXPECT_NEAR(n[2], 0.1 * G, 1.0);
  EXPECT_GT(n[2], 2 * whole.num_windows(2)) << "mip is oversampled over several epochs";
  whole.micro_batch(G - 4, 4);  // its later epochs read fine
}

std::vector<nlohmann::json> metrics(const std::string& log_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(log_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// 4 steps in one go equal 2 steps, a save, a resume and 2 more, bit for bit; the per-dataset
// counts are logged and checkpointed and add up to the consumed samples; each dataset's
// held-out loss is reported.
TEST(DataBlend, ResumeContinuesTheBlendBitExactly) {
  const std::string dir = glm::testing::temp_dir("blend_resume");
  const config::RunConfig rc = blended_run(0.5, 0.3, 0.2, {"train.log_interval=1", "train.eval_iters=1"});
  std::vector<double> straight;
  {
    Trainer t(rc, {.log_dir = dir + "/straight"});
    for (int i = 0; i < 4; ++i) straight.push_back(t.train_step().loss);
    const EvalResult e = t.evaluate();
    ASSERT_EQ(e.datasets.size(), 3u);
    EXPECT_EQ(e.datasets[1].name, "zh");
    std::int64_t tokens = 0;
    for (const auto& d : e.datasets) {
      EXPECT_GT(d.tokens, 0) << d.name;
      EXPECT_TRUE(std::isfinite(d.loss)) << d.name;
      tokens += d.tokens;
    }
    EXPECT_EQ(tokens, e.tokens);
  }
  std::vector<double> resumed;
  {
    Trainer t(rc, {.log_dir = dir + "/first"});
    resumed.push_back(t.train_step().loss);
    resumed.push_back(t.train_step().loss);
    t.save(dir + "/ckpt");
  }
  const checkpoint::CheckpointMeta meta =
      checkpoint::read_checkpoint_meta(checkpoint::resolve_checkpoint_dir(dir + "/ckpt", 2));
  ASSERT_TRUE(meta.data.contains("samples"));
  const auto counts = meta.data["samples"].get<std::vector<std::int64_t>>();
  EXPECT_EQ(counts[0] + counts[1] + counts[2], meta.consumed_samples);
  {
    Trainer t(rc, {.log_dir = dir + "/second"});
    t.load(dir + "/ckpt");
    resumed.push_back(t.train_step().loss);
    resumed.push_back(t.train_step().loss);
  }
  EXPECT_EQ(resumed, straight);
  // metrics.jsonl's per-dataset counts (the straight run logs every step)
  Trainer t(rc, {.log_dir = dir + "/logged"});
  t.run();
  bool seen = false;
  for (const auto& j : metrics(dir + "/logged")) {
    if (j.contains("dataset_samples")) {
      std::int64_t sum = 0;
      for (const auto& [name, n] : j["dataset_samples"].items()) sum += n.get<std::int64_t>();
      EXPECT_EQ(sum, j["consumed_samples"].get<std::int64_t>());
      seen = true;
    }
    if (j.contains("eval_loss")) {
      ASSERT_TRUE(j.contains("eval_datasets")) << j.dump();
      EXPECT_EQ(j["eval_datasets"].size(), 3u);
    }
  }
  EXPECT_TRUE(seen);
}

// New weights on resume start a phase at the resumed sample, warmed up over
// train.data_warmup_samples: logged as a note and a "blend_change" event; the samples given
// before it are unchanged and the counts then follow the new targets. A different set of
// datasets, or a one-dataset checkpoint, is refused.
TEST(DataBlend, AWeightChangeOnResumeIsLoggedAndWarmedUp) {
  const std::string dir = glm::testing::temp_dir("blend_change");
  {
    Trainer t(blended_run(0.5, 0.3, 0.2), {.log_dir = dir + "/a"});
    t.train_step();
    t.train_step();
    t.save(dir + "/ckpt");
  }
  const config::RunConfig changed =
      blended_run(0.1, 0.1, 0.8, {"train.data_warmup_samples=64"});
  Trainer t(changed, {.log_dir = dir + "/b"});
  t.load(dir + "/ckpt");
  const std::int64_t g0 = t.state().consumed_samples;
  bool event = false;
  for (const auto& j : metrics(dir + "/b")) {
    if (j.value("event", "") == "blend_change") event = true;
    if (j.value("event", "") == "load") {
      const std::string notes = j["notes"].dump();
      EXPECT_NE(notes.find("mip 0.2 -> 0.8"), std::string::npos) << notes;
      EXPECT_NE(notes.find("reached over 64 samples"), std::string::npos) << notes;
    }
  }
  EXPECT_TRUE(event);
  t.train_step();
  t.save(dir + "/ckpt");
  const checkpoint::CheckpointMeta meta = checkpoint::read_checkpoint_meta(
      checkpoint::resolve_checkpoint_dir(dir + "/ckpt", t.state().step));
  const data::BlendSchedule s = data::BlendSchedule::from_json(meta.data["blend"], "meta.json");
  ASSERT_EQ(s.phases().size(), 2u);
  EXPECT_EQ(s.phases()[1].start, g0);
  EXPECT_EQ(s.phases()[1].warmup, 64);
  const auto counts = meta.data["samples"].get<std::vector<std::int64_t>>();
  for (int d = 0; d < 3; ++d)
    EXPECT_LE(std::abs(counts[d] - s.target(d, meta.consumed_samples)), 1.0) << d;

  auto refused = [&](const config::RunConfig& rc) {
    try {
      Trainer x(rc, {.log_dir = dir + "/x"});
      x.load(dir + "/ckpt");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  config::RunConfig two = glm::testing::tiny_run(
      {"train.data_dir=\"\"", fmt::format("train.data=[{{\"path\": \"{0}/en\", \"weight\": 1}}, "
                                          "{{\"path\": \"{0}/zh\", \"weight\": 1}}]",
                                          blend_root())});
  EXPECT_NE(refused(two).find("not which datasets it blends"), std::string::npos);
  // a one-dataset checkpoint cannot start a blend: its datasets' counts are unknown
  {
    Trainer one(glm::testing::tiny_run(), {.log_dir = dir + "/one"});
    one.train_step();
    one.save(dir + "/one_ckpt");
  }
  try {
    Trainer x(changed, {.log_dir = dir + "/y"});
    x.load(dir + "/one_ckpt");
    ADD_FAILURE() << "a blend must not continue a one-dataset checkpoint";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("a blend continues only"), std::string::npos) << e.what();
  }
}

// The same blended run through glm-train in one process and in dp 2 x tp 2 under mpirun:
// the same samples (per-dataset counts equal at every logged step) and the same losses
// within the summation-order tolerance of the layout tests.
TEST(DataBlend, LayoutsReadTheSameBlendedSamples) {
  const std::string dir = glm::testing::temp_dir("blend_layouts");
  auto run = [&](int ranks, const std::string& flags, const std::string& out) {
    const std::string cmd = fmt::format(
        "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n {} --oversubscribe "
        "-x OMP_NUM_THREADS=1 {}/bin/glm-train --config {}/configs/tiny.json {} --train-iters 4 "
        "--log-dir {} --set model.vocab_size=6016 --set train.micro_batch_size=2 --set "
        "train.log_interval=1 --set train.eval_interval=0 --set train.eval_iters=1 --set "
        "'train.data_dir=\"\"' --set '{}' > {}.out 2>&1",
        ranks, GLM_BINARY_DIR, GLM_SOURCE_DIR, flags, out, blend_json(0.5, 0.3, 0.2), out);
    return std::system(cmd.c_str());
  };
  ASSERT_EQ(run(1, "", dir + "/one"), 0) << "see " << dir << "/one.out";
  ASSERT_EQ(run(4, "--dp 2 --tp 2", dir + "/d2t2"), 0) << "see " << dir << "/d2t2.out";
  auto steps = [](const std::string& log) {
    std::vector<nlohmann::json> v;
    for (const auto& j : metrics(log))
      if (j.contains("loss") && j.contains("dataset_samples")) v.push_back(j);
    return v;
  };
  const auto a = steps(dir + "/one"), b = steps(dir + "/d2t2");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i]["dataset_samples"], a[i]["dataset_samples"]) << "step " << i + 1;
    const double la = a[i]["loss"].get<double>(), lb = b[i]["loss"].get<double>();
    EXPECT_NEAR(lb, la, 1e-5 * la) << "step " << i + 1;
  }
}

// Every dataset of a blend must share the first one's tokenizer: one prepared with its own
// is refused naming it; so are blends that are not well-formed.
TEST(DataBlend, BadBlendsAreRefusedNamingTheDataset) {
  const std::string dir = glm::testing::temp_dir("blend_bad");
  data::preprocess({.inputs = {kFortunes + "riddles"},
                    .output_dir = dir + "/own",
                    .vocab_size = 400,
                    .valid_fraction = 0.1,
                    .force = true});
  const config::RunConfig rc = glm::testing::tiny_run(
      {"train.data_dir=\"\"",
       fmt::format("train.data=[{{\"path\": \"{}/en\", \"weight\": 1}}, {{\"path\": \"{}/own\", "
                   "\"weight\": 1, \"name\": \"theirs\"}}]",
                   blend_root(), dir)});
  try {
    Trainer t(rc, {.log_dir = dir + "/log"});
    ADD_FAILURE() << "a dataset with another tokenizer must be refused";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("dataset 'theirs'"), std::string::npos) << m;
    EXPECT_NE(m.find("another tokenizer"), std::string::npos) << m;
  }
  auto message = [](std::vector<std::string> sets) {
    try {
      glm::testing::tiny_run(sets);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({blend_json(1, 1, 1)}).find("given with train.data_dir"), std::string::npos);
  EXPECT_NE(message({"train.data_dir=\"\"", "train.data=[{\"weight\": 1}]"}).find("train.data[0].path"),
            std::string::npos);
  EXPECT_NE(message({"train.data_dir=\"\"", "train.data=[{\"path\": \"x\", \"weight\": -1}]"})
                .find("train.data[0].weight"),
            std::string::npos);
  EXPECT_NE(message({"train.data_dir=\"\"", "train.data=[]"}).find("train.data"), std::string::npos);
  EXPECT_NE(message({"train.data_dir=\"\"",
                     "train.data=[{\"path\": \"a/x\", \"weight\": 1}, {\"path\": \"b/x/\", "
                     "\"weight\": 1}]"})
                .find("two datasets named 'x'"),
            std::string::npos);
}

}  // namespace
}  // namespace glm::train
