// glm-preprocess end to end: the built program on a small generated corpus (outputs,
// disjoint splits that together hold every document, --force, --tokenizer reuse, exit
// codes and messages), and the deterministic split rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"
#include "data_test_util.h"
#include "tests/test_util.h"

namespace glm::data {
namespace {

const std::string kProgram = std::string(GLM_BIN_DIR) + "/glm-preprocess";
constexpr int kDocs = 200;

// Writes the corpus: documents 0..149 in fortune format, 150..199 as paragraphs.
std::vector<std::string> write_corpus(const glm::testing::ScratchDir& dir) {
  std::vector<std::string> docs;
  std::string fortunes, paragraphs;
  for (int i = 0; i < kDocs; ++i) {
    docs.push_back(glm::testing::corpus_document(i));
    (i < 150 ? fortunes : paragraphs) += docs.back() + (i < 150 ? "\n%\n" : "\n\n");
  }
  std::filesystem::create_directories(dir / "in");
  glm::testing::write_text(dir / "in/fortunes", fortunes);
  glm::testing::write_text(dir / "in/paragraphs.txt", paragraphs);
  return docs;
}

// The documents of a dataset, decoded (each without its <eop>).
std::vector<std::string> decoded_documents(const TokenDataset& ds, const Tokenizer& tok) {
  std::vector<std::string> out;
  auto off = ds.doc_offsets();
  for (std::int64_t i = 0; i < ds.num_documents(); ++i) {
    std::vector<std::int32_t> ids(ds.tokens().begin() + off[i], ds.tokens().begin() + off[i + 1]);
    EXPECT_EQ(ids.back(), tok.special().eop);
    ids.pop_back();
    out.push_back(tok.decode(ids));
  }
  return out;
}

TEST(Preprocess, EndToEndSplitsAreDisjointAndComplete) {
  glm::testing::ScratchDir dir;
  const std::vector<std::string> docs = write_corpus(dir);
  const std::string out = dir / "out";
  const std::string cmd = kProgram + " --input " + (dir / "in") + " --output " + out +
                          " --vocab-size 400 --valid-fraction 0.2 --workers 2";
  auto r = glm::test::run_command(cmd + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"tokenizer.model", "train.h5", "valid.h5"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;

  Tokenizer tok = Tokenizer::from_file(out + "/tokenizer.model");
  EXPECT_EQ(tok.vocab_size(), 400);
  TokenDataset train(out + "/train.h5"), valid(out + "/valid.h5");
  train.expect_tokenizer(tok.sha256());
  valid.expect_tokenizer(tok.sha256());
  EXPECT_EQ(train.source_files(),
            (std::vector<std::string>{dir / "in/fortunes", dir / "in/paragraphs.txt"}));

  std::vector<std::string> t = decoded_documents(train, tok), v = decoded_documents(valid, tok);
  EXPECT_GT(v.size(), 10u);  // about 20% of 200
  EXPECT_LT(v.size(), 70u);
  for (const std::string& d : v) EXPECT_TRUE(is_valid_document(d, 0.2));
  for (const std::string& d : t) EXPECT_FALSE(is_valid_document(d, 0.2));
  const std::set<std::string> ts(t.begin(), t.end());
  for (const std::string& d : v) EXPECT_EQ(ts.count(d), 0u) << "valid document in train: " << d;
  // Together they are the corpus (in file order within each split).
  std::vector<std::string> all = t, expected = docs;
  all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);

  // Existing outputs are refused without --force (exit 2, naming the file) ...
  r = glm::test::run_command(cmd + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(out + "/tokenizer.model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  // ... and replaced with it; the same corpus and options give the same tokens.
  r = glm::test::run_command(cmd + " --force 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  TokenDataset train2(out + "/train.h5");
  EXPECT_TRUE(std::ranges::equal(train2.tokens(), train.tokens()));

  // --tokenizer reuses the model: copied, same checksum, no training.
  const std::string out2 = dir / "out2";
  r = glm::test::run_command(kProgram + " -i " + (dir / "in/fortunes") + " -i " +
                             (dir / "in/paragraphs.txt") + " -o " + out2 + " --tokenizer " + out +
                             "/tokenizer.model 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Tokenizer::from_file(out2 + "/tokenizer.model").sha256(), tok.sha256());
  TokenDataset(out2 + "/valid.h5").expect_tokenizer(tok.sha256());
}

TEST(Preprocess, BadUsageAndInputExitWithTwoNamingTheProblem) {
  glm::testing::ScratchDir dir;
  write_corpus(dir);
  glm::testing::write_text(dir / "bad.txt", "fine\nstill fine\nbroken \xC3\x28 here\n");
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"--input " + (dir / "in") + " --output " + (dir / "o") + " --valid-fraction 1.5",
       "--valid-fraction"},
      {"--input " + (dir / "missing.txt") + " --output " + (dir / "o"), dir / "missing.txt"},
      {"--input " + (dir / "bad.txt") + " --output " + (dir / "o"), dir / "bad.txt:3"},
      {"--input " + (dir / "in"), "--output"},
      {"--output " + (dir / "o"), "--input"},
      {"--input " + (dir / "in") + " --output " + (dir / "o") + " --workers x", "workers"},
      {"--input " + (dir / "in") + " --output " + (dir / "o") + " --frobnicate", "frobnicate"},
      {"--input " + (dir / "in") + " --output " + (dir / "o") + " --tokenizer " +
           (dir / "in/fortunes"),
       dir / "in/fortunes"},
      {"--input " + (dir / "in") + " --output " + (dir / "o") + " --vocab-size 30000",
       "--vocab-size"},
  };
  for (const Case& c : cases) {
    auto r = glm::test::run_command(kProgram + " " + c.args + " 2>&1");
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
  auto r = glm::test::run_command(kProgram + " --help 2>&1");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--valid-fraction"), std::string::npos);
}

TEST(Preprocess, SplitRuleIsDeterministicAndHonoursTheFraction) {
  int held_out = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string doc = "document number " + std::to_string(i);
    const bool v = is_valid_document(doc, 0.1);
    EXPECT_EQ(v, is_valid_document(doc, 0.1));
    if (v) EXPECT_TRUE(is_valid_document(doc, 0.2));  // monotone in the fraction
    held_out += v;
  }
  // Binomial(20000, 0.1): sd = 42; 5 sd = 210.
  EXPECT_NEAR(held_out, 2000, 210);
  EXPECT_FALSE(is_valid_document("anything", 0.0));
}

}  // namespace
}  // namespace glm::data
