// glm-preprocess --shard-tokens (data/preprocess_sharded.cpp): the shards hold the same
// stream as one file, an interrupted run continues to the same bytes, other settings are
// refused on resume, and memory does not grow with the input.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/data_pipeline.h"
#include "data/preprocess.h"
#include "data/token_dataset.h"
#include "data/token_shards.h"
#include "data_test_util.h"
#include "tests/test_util.h"

extern char** environ;

namespace glm::data {
namespace {

namespace fs = std::filesystem;
const std::string kProgram = std::string(GLM_BIN_DIR) + "/glm-preprocess";

// A JSON Lines corpus of documents [first, first + n) of the generated corpus.
std::string write_jsonl(const glm::testing::ScratchDir& dir, const std::string& name, int first,
                        int n) {
  std::string text;
  for (int i = first; i < first + n; ++i)
    text += nlohmann::json{{"text", glm::testing::corpus_document(i)}}.dump() + "\n";
  glm::testing::write_text(dir / name, text);
  return dir / name;
}

// A 400-piece tokenizer trained on the first 2000 documents (one single-file run).
std::string tokenizer(const glm::testing::ScratchDir& dir) {
  preprocess({.inputs = {write_jsonl(dir, "tok.jsonl", 0, 2000)},
              .output_dir = dir / "tok",
              .vocab_size = 400});
  return dir / "tok/tokenizer.model";
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The shards of a split, read back through the index, are the single file's stream: the
// same tokens and document boundaries. Every shard but the last holds at least
// shard_tokens tokens and closes at the first document boundary after it.
TEST(PreprocessSharded, ShardsHoldTheSingleFileStream) {
  glm::testing::ScratchDir dir;
  const std::string tok = tokenizer(dir);
  const std::string input = write_jsonl(dir, "in.jsonl", 0, 3000);
  preprocess({.inputs = {input}, .output_dir = dir / "one", .tokenizer_model = tok,
              .valid_fraction = 0.05});
  const PreprocessSummary s = preprocess({.inputs = {input},
                                          .output_dir = dir / "shards",
                                          .tokenizer_model = tok,
                                          .valid_fraction = 0.05,
                                          .shard_tokens = 5000});
  EXPECT_GT(s.train_shards, 3);
  EXPECT_GE(s.valid_shards, 1);
  for (const char* split : {"train", "valid"}) {
    const TokenDataset one(dir / "one/" + std::string(split) + ".h5");
    const auto many = TokenDataset::open_split(dir / "shards", split);
    ASSERT_EQ(many->num_tokens(), one.num_tokens()) << split;
    EXPECT_EQ(many->num_documents(), one.num_documents()) << split;
    EXPECT_TRUE(many->tokens().empty()) << "a sharded split is read window by window";
    std::vector<std::int32_t> all(static_cast<std::size_t>(many->num_tokens()));
    many->read(0, many->num_tokens(), all.data());  // across every shard boundary
    EXPECT_TRUE(std::equal(one.tokens().begin(), one.tokens().end(), all.begin())) << split;
    std::vector<std::int32_t> w(128), v(128);
    for (std::int64_t i = 0; i < many->num_windows(128); i += 7) {
      many->window(i, 128, w.data());
      one.window(i, 128, v.data());
      ASSERT_EQ(w, v) << split << " window " << i;
    }
    const std::vector<ShardInfo> shards =
        read_shard_index(dir / "shards/" + shard_index_name(split));
    for (std::size_t k = 0; k + 1 < shards.size(); ++k) {
      const TokenDataset d(dir / "shards/" + shards[k].file);
      EXPECT_GE(d.num_tokens(), 5000) << shards[k].file;
      const auto off = d.doc_offsets();
      EXPECT_LT(off[off.size() - 2], 5000u) << shards[k].file << " closes late";
    }
  }
  // training reads the same samples from either layout
  const Tokenizer t = Tokenizer::from_file(tok);
  DataPipeline a(dir / "one", "train", t, CollatorConfig{}, 128, 5);
  DataPipeline b(dir / "shards", "train", t, CollatorConfig{}, 128, 5);
  const modeldef::Batch x = a.micro_batch(3, 8), y = b.micro_batch(3, 8);
  EXPECT_TRUE(test::same_bytes(x.tokens, y.tokens) && test::same_bytes(x.targets, y.targets));
  // an index that does not describe its shards is refused naming the shard
  const std::string index = dir / "shards/train.index.json";
  nlohmann::json j = nlohmann::json::parse(glm::testing::read_text(index));
  j["shards"][1]["tokens"] = j["shards"][1]["tokens"].get<std::int64_t>() + 1;
  glm::testing::write_text(index, j.dump());
  try {
    TokenDataset::open_split(dir / "shards", "train");
    ADD_FAILURE() << "a wrong index must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train-00001.h5"), std::string::npos) << e.what();
  }
}

// Killed after its second shard (the test hook exits with 137, as SIGKILL would), the run
// continues where it stopped and ends with the same files, byte for byte, as a run that was
// never interrupted; continuing with another --shard-tokens is refused naming it.
TEST(PreprocessSharded, AResumedRunEqualsAnUninterruptedOne) {
  glm::testing::ScratchDir dir;
  const std::string tok = tokenizer(dir);
  const std::string input = write_jsonl(dir, "in.jsonl", 0, 3000);
  const std::string args =
      fmt::format("--input {} --tokenizer {} --shard-tokens 5000 --valid-fraction 0.05 2>&1",
                  input, tok);
  const auto whole = test::run_command(kProgram + " --output " + (dir / "whole") + " " + args);
  ASSERT_EQ(whole.status, 0) << whole.output;
  const auto killed = test::run_command("GLM_TEST_PREPROCESS_EXIT_AFTER_SHARDS=2 " + kProgram +
                                        " --output " + (dir / "resumed") + " " + args);
  EXPECT_EQ(killed.status, 137) << killed.output;
  EXPECT_FALSE(fs::exists(dir / "resumed/train.index.json"));
  const auto again = test::run_command(kProgram + " --output " + (dir / "resumed") + " " + args);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("continuing after 2 complete shards"), std::string::npos)
      << again.output;
  ASSERT_EQ(files_in(dir / "resumed"), files_in(dir / "whole"));
  for (const std::string& f : files_in(dir / "whole"))
    EXPECT_EQ(glm::testing::read_text(dir / "resumed/" + f),
              glm::testing::read_text(dir / "whole/" + f))
        << f;
  const auto other = test::run_command(
      kProgram + " --output " + (dir / "resumed") + " " +
      fmt::format("--input {} --tokenizer {} --shard-tokens 9000 --valid-fraction 0.05 2>&1",
                  input, tok));
  EXPECT_EQ(other.status, 2) << other.output;
  EXPECT_NE(other.output.find("shard_tokens = 5000, this one 9000"), std::string::npos)
      << other.output;
}

// Peak resident memory (the kernel's ru_maxrss of the finished program) of a sharded run
// over 3x the input grows by less than 25%: the program holds a batch and the open shards,
// not the corpus.
long peak_rss_kib(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ), 0);
  int status = 0;
  rusage ru{};
  EXPECT_EQ(wait4(pid, &status, 0, &ru), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << argv[0];
  return ru.ru_maxrss;
}

TEST(PreprocessSharded, MemoryDoesNotGrowWithTheInput) {
  glm::testing::ScratchDir dir;
  const std::string tok = tokenizer(dir);
  long rss[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    // 120000 documents are about 11 MB of JSON Lines, past the 8 MB batch
    const int docs = k == 0 ? 120000 : 360000;
    const std::string input = write_jsonl(dir, fmt::format("in{}.jsonl", k), 0, docs);
    rss[k] = peak_rss_kib({kProgram, "--input", input, "--output", dir / fmt::format("out{}", k),
                           "--tokenizer", tok, "--shard-tokens", "200000", "--workers", "2"});
    EXPECT_GT(fs::file_size(input), static_cast<std::uintmax_t>(docs) * 80) << "input too small";
  }
  EXPECT_LT(rss[1], rss[0] * 5 / 4) << "peak RSS " << rss[0] << " KiB for 1x, " << rss[1]
                                    << " KiB for 3x the input";
}

}  // namespace
}  // namespace glm::data
