// glm-export, glm-generate and glm-eval as programs: exit codes (0 ok, 2 bad input naming
// the file or option), streamed output, --json.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <string>

#include "core/h5_tensors.h"
#include "train/trainer.h"
#include "train_test_util.h"
#include "core/cuda_device.h"

namespace glm::infer {
namespace {

namespace fs = std::filesystem;
const std::string kBin = std::string(GLM_BINARY_DIR) + "/bin/";

struct CliResult {
  int status;
  std::string out, err;
};

// Runs a shell command line; stdout and stderr captured separately.
CliResult run(const std::string& cmd, const std::string& dir) {
  const std::string o = dir + "/stdout.txt", e = dir + "/stderr.txt";
  const int st = std::system((cmd + " >" + o + " 2>" + e).c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  };
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, slurp(o), slurp(e)};
}

std::string saved_checkpoint(const std::string& dir, const std::string& vocab_size = "6016") {
  fs::remove_all(dir);
  fs::create_directories(dir);
  config::RunConfig rc =
      glm::testing::tiny_run({"train.eval_iters=1", "model.vocab_size=" + vocab_size});
  train::Trainer t(rc, {.log_dir = dir + "/log"});
  t.train_step();
  return t.save(dir + "/ckpt").dir;
}

TEST(InferCli, ExportGenerateEvalEndToEnd) {
  const std::string dir = std::string(GLM_BINARY_DIR) + "/test_infer_cli/e2e";
  const std::string ckpt = saved_checkpoint(dir);
  CliResult ex = run(
      kBin + "glm-export --load " + dir + "/ckpt --bits 4 --group-size 64 --out " + dir + "/m4.h5",
      dir);
  ASSERT_EQ(ex.status, 0) << ex.out << ex.err;
  EXPECT_NE((ex.out + ex.err).find("4-bit, group 64"), std::string::npos) << ex.out << ex.err;

  CliResult gen = run(kBin + "glm-generate --model " + dir +
                          "/m4.h5 --prompt 'Hello there' --max-new-tokens 8 --min-new-tokens 8 "
                          "--temperature 0.9 --top-k 20 --seed 3",
                      dir);
  ASSERT_EQ(gen.status, 0) << gen.err;
  EXPECT_FALSE(gen.out.empty());
  EXPECT_NE(gen.err.find("8 new tokens"), std::string::npos) << gen.err;
  // stdin prompt, same seed: the same text
  CliResult gen2 =
      run("echo 'Hello there' | " + kBin + "glm-generate --model " + dir +
              "/m4.h5 --max-new-tokens 8 --min-new-tokens 8 --temperature 0.9 --top-k 20 --seed 3",
          dir);
  ASSERT_EQ(gen2.status, 0) << gen2.err;
  EXPECT_EQ(gen.out, gen2.out);

  CliResult ev = run(kBin + "glm-eval --model " + dir + "/m4.h5 --data " +
                         glm::testing::test_corpus() + "/valid.h5 --max-samples 3 --json",
                     dir);
  ASSERT_EQ(ev.status, 0) << ev.err;
  auto j = nlohmann::json::parse(ev.out);
  EXPECT_EQ(j["samples"], 3);
  EXPECT_EQ(j["bits"], 4);
  EXPECT_GT(j["loss"].get<double>(), 0);
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(j["loss"].get<double>()),
              1e-6 * j["perplexity"].get<double>());
}

// mpirun -n N on a --tp N export: each rank loads its own shard and runs the layer's forward
// with its tensor-parallel group. The held-out loss matches one process within summation
// order (the row-parallel sums are all-reduced rather than added shard by shard: 1e-6
// relative observed), greedy and seeded sampling give the same text, rank 0 alone prints,
// each rank reports its own weights; bad layouts are refused naming the fix. The vocabulary
// of 6018 rows (the tokenizer's 6000 padded) splits evenly over 2 ranks and unevenly over 4
// (1504 and 1505 rows), so both ways of cutting the embedding and the tied head run.
TEST(InferCli, TensorParallelRanksServeLikeOneProcess) {
  const std::string dir = std::string(GLM_BINARY_DIR) + "/test_infer_cli/tp_ranks";
  saved_checkpoint(dir, "6018");
  const std::string mpirun =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe "
      "-x OMP_NUM_THREADS=1 -n ";
  const std::string valid = glm::testing::test_corpus() + "/valid.h5";
  // (tp, bits, group size): fp16, INT8 per row, INT4 per row and grouped
  for (const auto& [tp, bits, group] : {std::tuple{2, 16, 0}, std::tuple{2, 4, 32},
                                        std::tuple{4, 8, 0}, std::tuple{4, 4, 32},
                                        std::tuple{4, 4, 0}}) {
    const std::string model = fmt::format("{}/m_tp{}_b{}_g{}.h5", dir, tp, bits, group);
    CliResult ex = run(fmt::format("{}glm-export --load {}/ckpt --bits {} --group-size {} --tp {} "
                                   "--out {}",
                                   kBin, dir, bits, group, tp, model),
                       dir);
    ASSERT_EQ(ex.status, 0) << ex.err;
    const std::string where = fmt::format("tp {} bits {} group {}", tp, bits, group);
    const std::string eval = kBin + "glm-eval --model " + model + " --data " + valid +
                             " --max-samples 4 --json";
    CliResult one = run(eval, dir), many = run(mpirun + std::to_string(tp) + " " + eval, dir);
    ASSERT_EQ(one.status, 0) << where << one.err;
    ASSERT_EQ(many.status, 0) << where << many.err;
    const auto a = nlohmann::json::parse(one.out), b = nlohmann::json::parse(many.out);  // one line
    EXPECT_NEAR(b["loss"].get<double>(), a["loss"].get<double>(), 1e-5 * a["loss"].get<double>())
        << where;
    EXPECT_EQ(b["tokens"], a["tokens"]) << where;
    EXPECT_NE(many.err.find(fmt::format("rank 1 of {}", tp)), std::string::npos) << many.err;
    EXPECT_NE(many.err.find("MB for a prefill of"), std::string::npos) << many.err;
    // a [gMASK] continuation, greedy and sampled, and a [MASK] blank filled
    for (const char* sampling : {"--prompt 'Hello there' --temperature 0",
                                 "--prompt 'Hello there' --temperature 0.9 --top-k 20 --seed 3",
                                 "--prompt 'The old man [MASK] by the sea.' --temperature 0"}) {
      const std::string gen = kBin + "glm-generate --model " + model +
                              " --max-new-tokens 12 --min-new-tokens 12 " + sampling;
      CliResult g1 = run(gen, dir), gn = run(mpirun + std::to_string(tp) + " " + gen, dir);
      ASSERT_EQ(g1.status, 0) << g1.err;
      ASSERT_EQ(gn.status, 0) << gn.err;
      EXPECT_EQ(gn.out, g1.out) << where << " " << sampling;
      // a decode token: the embedding's all-reduce, 2 per layer (tiny has 2), the logits'
      // all-gather and the token's broadcast (the last token is broadcast, not run)
      const std::size_t at = gn.err.find("% of the time in collectives (");
      ASSERT_NE(at, std::string::npos) << gn.err;
      const double per_token = std::stod(gn.err.substr(at + 30));
      EXPECT_GE(per_token, 7.0) << gn.err;
      EXPECT_LT(per_token, 7.2) << gn.err;
      // rank 0's prefill buffers, measured by the allocator, within what the plan counts
      double measured = 0, counted = 0;
      const std::size_t p = gn.err.find("MB of buffers at the peak (counted for it: ");
      ASSERT_NE(p, std::string::npos) << gn.err;
      measured = std::stod(gn.err.substr(gn.err.rfind(": ", p - 1) + 2));
      counted = std::stod(gn.err.substr(p + 43));
      EXPECT_GT(measured, 0) << gn.err;
      EXPECT_LE(measured, counted) << gn.err;
      EXPECT_LE(counted, 1.25 * measured) << gn.err;
    }
  }
  // --kv-cache fp16 across ranks: each rank's cache in half the bytes, the loss within the
  // rounding of the cached keys and values
  {
    const std::string model = dir + "/m_tp2_b4_g32.h5";
    const std::string eval = kBin + "glm-eval --model " + model + " --data " + valid +
                             " --max-samples 4 --json";
    CliResult f32 = run(eval, dir), f16 = run(mpirun + "2 " + eval + " --kv-cache fp16", dir);
    ASSERT_EQ(f16.status, 0) << f16.err;
    const auto a = nlohmann::json::parse(f32.out), b = nlohmann::json::parse(f16.out);
    EXPECT_EQ(b["kv_cache"], "fp16");
    EXPECT_NEAR(b["loss"].get<double>(), a["loss"].get<double>(), 1e-3 * a["loss"].get<double>());
    EXPECT_NE(f16.err.find("a token (f16)"), std::string::npos) << f16.err;
    EXPECT_EQ(run(eval + " --kv-cache bf16", dir).status, 2);
  }
  // Ranks that do not match the export's tp are refused, naming both and the fix.
  const std::string model2 = dir + "/m_tp2_b16_g0.h5";
  CliResult bad = run(mpirun + "4 " + kBin + "glm-eval --model " + model2 + " --data " + valid, dir);
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_NE(bad.err.find("exported for tp 2, but 4 ranks"), std::string::npos) << bad.err;
  CliResult tp1 = run(fmt::format("{}glm-export --load {}/ckpt --bits 16 --out {}/m1.h5", kBin,
                                  dir, dir),
                      dir);
  ASSERT_EQ(tp1.status, 0);
  bad = run(mpirun + "2 " + kBin + "glm-generate --model " + dir + "/m1.h5 --prompt hi", dir);
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_NE(bad.err.find("mpirun -n 1"), std::string::npos) << bad.err;
}

// A checkpoint re-cut for another layout (glm-ckpt reshard to tp 2 x pp 2, four rank files)
// exports to exactly the same tensors as the one-process checkpoint it came from.
TEST(InferCli, ExportFromAnyLayoutGivesTheSameTensors) {
  const std::string dir = std::string(GLM_BINARY_DIR) + "/test_infer_cli/layout";
  saved_checkpoint(dir);
  CliResult rs = run(kBin + "glm-ckpt reshard --in " + dir + "/ckpt --out " + dir +
                         "/ckpt_tp2pp2 --dp 1 --tp 2 --pp 2",
                     dir);
  ASSERT_EQ(rs.status, 0) << rs.out << rs.err;
  for (const std::string c : {"ckpt", "ckpt_tp2pp2"}) {
    CliResult ex = run(kBin + "glm-export --load " + dir + "/" + c +
                           " --bits 4 --group-size 32 --tp 2 --out " + dir + "/" + c + ".h5",
                       dir);
    ASSERT_EQ(ex.status, 0) << ex.out << ex.err;
  }
  H5File a(dir + "/ckpt.h5", H5File::Mode::read), b(dir + "/ckpt_tp2pp2.h5", H5File::Mode::read);
  int compared = 0;
  for (const std::string group : {"/", "tp_0", "tp_1"}) {
    const auto names = a.list(group);
    EXPECT_EQ(names, b.list(group)) << group;
    for (const auto& n : names) {
      if (n.rfind("tp_", 0) == 0) continue;  // the TP groups, compared on their own
      const std::string path = group == "/" ? n : group + "/" + n;
      Tensor x = a.read(path), y = b.read(path);
      ASSERT_EQ(x.shape(), y.shape()) << path;
      EXPECT_EQ(0, std::memcmp(x.raw(), y.raw(), x.nbytes())) << path;
      ++compared;
    }
  }
  // root: tokenizer, embedding, final LN, 6 norms and biases x 2 layers; each of the two TP
  // groups: 2 layers x (4 linears x qweight + scales, 2 column-parallel biases)
  EXPECT_EQ(compared, 4 + 12 + 2 * 20);
}

TEST(InferCli, BadInputExitsTwoNamingIt) {
  const std::string dir = std::string(GLM_BINARY_DIR) + "/test_infer_cli/bad";
  const std::string ckpt = saved_checkpoint(dir);
  auto expect2 = [&](const std::string& cmd, const std::string& names) {
    CliResult r = run(cmd, dir);
    // spdlog's default logger prints to stdout; glm-generate logs to stderr
    EXPECT_EQ(r.status, 2) << cmd << "\n" << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(names), std::string::npos) << cmd << "\n" << r.out << r.err;
  };
  expect2(kBin + "glm-export --load " + dir + "/nope --bits 8 --out " + dir + "/m.h5",
          dir + "/nope");
  expect2(kBin + "glm-export --load " + dir + "/ckpt --bits 3 --out " + dir + "/m.h5", "--bits");
  expect2(
      kBin + "glm-export --load " + dir + "/ckpt --bits 4 --group-size 7 --out " + dir + "/m.h5",
      "--group-size");
  expect2(kBin + "glm-export --load " + dir + "/ckpt --bits 8 --tp 3 --out " + dir + "/m.h5",
          "--tp");
  expect2(kBin + "glm-export --load " + dir + "/ckpt --bits 8 --tokenizer " + dir +
              "/none.model --out " + dir + "/m.h5",
          "none.model");
  expect2(kBin + "glm-export --bits 8 --out " + dir + "/m.h5", "load");
  // a truncated rank file: refused as glm-ckpt verify refuses it
  fs::resize_file(ckpt + "/rank_00000.h5", fs::file_size(ckpt + "/rank_00000.h5") - 100);
  expect2(kBin + "glm-export --load " + dir + "/ckpt --bits 8 --out " + dir + "/m.h5",
          "rank_00000.h5");
  EXPECT_FALSE(fs::exists(dir + "/m.h5"));
  expect2(kBin + "glm-generate --model " + dir + "/missing.h5 --prompt hi", "missing.h5");
  expect2(kBin + "glm-generate --model " + ckpt + "/meta.json --prompt hi", "meta.json");
  // --device cuda: refused with the reason without a GPU (infer/device.h); with one, the
  // engine gets as far as the missing model file
  const std::string cuda_reason = !built_with_cuda()        ? "this build lacks CUDA"
                                  : cuda_device_count() == 0 ? "no CUDA device present"
                                                             : "x.h5";
  expect2(kBin + "glm-generate --model x.h5 --prompt hi --device cuda", cuda_reason);
  expect2(kBin + "glm-eval --model x.h5 --data x.h5 --device cuda", cuda_reason);
  expect2(kBin + "glm-generate --model x.h5 --prompt hi --device tpu", "--device tpu");
  expect2(kBin + "glm-eval --model x.h5 --data x.h5 --device tpu", "--device tpu");
  expect2(kBin + "glm-generate --model x.h5 --prompt hi --temperature -1", "--temperature");
  expect2(kBin + "glm-eval --model " + dir + "/missing.h5 --data x.h5", "missing.h5");
  CliResult help = run(kBin + "glm-export --help", dir);
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--group-size"), std::string::npos);
}

// Every numeric option given out of its range is refused before any work, naming the
// option and its range; a negative value is never taken for "not given".
TEST(InferCli, NumericOptionsOutOfRangeExitTwoNamingTheRange) {
  const std::string dir = std::string(GLM_BINARY_DIR) + "/test_infer_cli/ranges";
  const std::string ckpt = saved_checkpoint(dir);
  const std::string model = dir + "/m.h5";
  ASSERT_EQ(run(kBin + "glm-export --load " + ckpt + " --bits 4 --out " + model, dir).status, 0);
  auto expect2 = [&](const std::string& args, const std::string& names) {
    CliResult r = run(kBin + args, dir);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(names), std::string::npos) << args << "\n" << r.out << r.err;
  };
  const std::string cfg = std::string(GLM_SOURCE_DIR) + "/configs/tiny.json --dry-run";
  expect2("glm-train --config " + cfg + " --train-iters -5", "--train-iters -5: must be in [1,");
  expect2("glm-train --config " + cfg + " --train-iters 0", "--train-iters 0: must be in [1,");
  expect2("glm-train --config " + cfg + " --seed -3", "--seed -3: must be in [0,");
  expect2("glm-train --config " + cfg + " --save-interval -2", "--save-interval -2");
  expect2("glm-train --config " + cfg + " --load " + ckpt + " --load-iter -1", "--load-iter -1");
  expect2("glm-train --config " + cfg + " --collective-timeout 0", "--collective-timeout 0");
  expect2("glm-train --config " + cfg + " --pp 0", "--pp 0: must be in [1,");
  // a KV cache beyond the memory available is refused before it is allocated
  expect2("glm-generate --model " + model + " --prompt hi --max-new-tokens 100000000",
          "--max-new-tokens 100000000: with the prompt's");
  expect2("glm-generate --model " + model + " --prompt hi --max-new-tokens 2147483000",
          "--max-new-tokens 2147483000");
  expect2("glm-generate --model " + model + " --prompt hi --seed -3", "--seed -3: must be in [0,");
  expect2("glm-export --load " + ckpt + " --bits 4 --iter -5 --out " + dir + "/x.h5", "--iter -5");
  expect2("glm-export --load " + ckpt + " --bits 4 --tp 0 --out " + dir + "/x.h5", "--tp 0");
  expect2("glm-ckpt inspect " + ckpt + " --iter -5", "--iter -5: must be in [0,");
  expect2("glm-ckpt reshard --in " + ckpt + " --out " + dir + "/r --dp 0", "--dp 0");
  expect2("glm-eval --model " + model + " --data x.h5 --max-samples -4", "--max-samples -4");
  EXPECT_FALSE(fs::exists(dir + "/x.h5"));
  EXPECT_FALSE(fs::exists(dir + "/r"));
}

}  // namespace
}  // namespace glm::infer
