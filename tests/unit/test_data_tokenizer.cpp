// Tokenizer training and loading: exact round trips (English, Chinese, byte fallback),
// special tokens, checksums, and clear errors for bad models and impossible vocab sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/sha256.h"
#include "core/atomic_file.h"
#include "data/tokenizer.h"
#include "data/tokenizer_trainer.h"
#include "data_test_util.h"

namespace glm::data {
namespace {

constexpr int kVocab = 500;  // covers the test corpus's ~110 characters + 256 bytes + 7

std::vector<std::string> test_corpus(int docs) {
  std::vector<std::string> out;
  for (int i = 0; i < docs; ++i) out.push_back(glm::testing::corpus_document(i));
  return out;
}

// One model trained for the whole suite (about a second).
class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new std::string(train_tokenizer(test_corpus(400), {.vocab_size = kVocab}));
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static const std::string& model() { return *model_; }

 private:
  static std::string* model_;
};
std::string* TokenizerTest::model_ = nullptr;

TEST_F(TokenizerTest, HasRequestedVocabAndDistinctSpecialTokens) {
  Tokenizer tok = Tokenizer::from_bytes(model());
  EXPECT_EQ(tok.vocab_size(), kVocab);
  const SpecialTokens& s = tok.special();
  const std::vector<int> ids = {s.mask, s.gmask, s.smask, s.sop, s.eop, s.pad};
  EXPECT_EQ(std::set<int>(ids.begin(), ids.end()).size(), 6u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(tok.id_to_piece(ids[i]), kSpecialTokenPieces[i]);
    EXPECT_NE(ids[i], tok.unk_id());
  }
  // A special token's text is that one token wherever it stands (a leading "▁" piece may
  // precede it at the start of a text: SentencePiece's dummy prefix).
  for (const std::string text : {"[gMASK]", "abc[gMASK]def", "明月[gMASK] [gMASK]"}) {
    const auto ids = tok.encode(text);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), s.gmask),
              std::count(text.begin(), text.end(), 'g'))
        << text;
  }
  EXPECT_EQ(tok.encode("the fox<eop>").back(), s.eop);
}

TEST_F(TokenizerTest, RoundTripsExactlyIncludingUnseenCharacters) {
  Tokenizer tok = Tokenizer::from_bytes(model());
  const std::vector<std::string> texts = {
      "the quick brown fox jumps over the lazy dog",
      "春眠不觉晓，处处闻啼鸟。",
      "Mixed 明月 text with digits 1234567890.",
      "emoji 😀🚀 and unseen 龘 characters: ü ñ ß",
      "  leading spaces,   runs of   spaces, trailing  ",
      "tabs\tand\nnewlines\n\nand a [MASK] in the middle <sop>",
      "",
  };
  for (const std::string& t : texts) {
    const auto ids = tok.encode(t);
    for (int id : ids) EXPECT_NE(id, tok.unk_id()) << "unknown token in '" << t << "'";
    EXPECT_EQ(tok.decode(ids), t);
  }
  // Digits are split one per piece.
  for (int id : tok.encode("2024")) EXPECT_LE(tok.decode(std::vector<std::int32_t>{id}).size(), 2u);
  EXPECT_THROW(tok.decode(std::vector<std::int32_t>{kVocab}), InputError);
}

// Bits per byte counts the text's UTF-8 bytes through the pieces: every text's pieces add
// up to its byte length (plus one for SentencePiece's dummy-prefix space), byte-fallback
// pieces count one byte each, special tokens none.
TEST_F(TokenizerTest, TextBytesPerIdAddUpToTheTextsUtf8Length) {
  Tokenizer tok = Tokenizer::from_bytes(model());
  const std::vector<std::int32_t> bytes = tok.text_bytes_per_id();
  ASSERT_EQ(bytes.size(), static_cast<std::size_t>(kVocab));
  for (const std::string t : {"the quick brown fox jumps over the lazy dog",
                              "春眠不觉晓，处处闻啼鸟。", "Mixed 明月 text with digits 1234567890.",
                              "emoji 😀🚀 and unseen 龘 characters: ü ñ ß",
                              "  leading spaces,   runs of   spaces, trailing  "}) {
    std::int64_t sum = 0;
    for (std::int32_t id : tok.encode(t)) sum += bytes[id];
    const auto n = static_cast<std::int64_t>(t.size());
    EXPECT_TRUE(sum == n || sum == n + 1) << t << ": " << sum << " bytes for " << n;
  }
  const SpecialTokens& s = tok.special();
  for (int id : {s.mask, s.gmask, s.smask, s.sop, s.eop, s.pad, tok.unk_id()})
    EXPECT_EQ(bytes[id], 0) << tok.id_to_piece(id);
  EXPECT_EQ(bytes[tok.piece_to_id("<0xF0>")], 1);
}

TEST_F(TokenizerTest, LoadsFromFileWithTheSameChecksum) {
  glm::testing::ScratchDir dir;
  write_file_atomically(dir / "tokenizer.model", model());
  Tokenizer a = Tokenizer::from_file(dir / "tokenizer.model");
  Tokenizer b = Tokenizer::from_bytes(model());
  EXPECT_EQ(a.sha256(), b.sha256());
  EXPECT_EQ(a.sha256(), sha256_hex(std::string_view(model())));
  EXPECT_EQ(a.sha256(), sha256_file_hex(dir / "tokenizer.model"));
  EXPECT_EQ(a.encode("明月光 the dog"), b.encode("明月光 the dog"));
}

TEST_F(TokenizerTest, ModelLackingASpecialTokenIsInputErrorNamingIt) {
  // Renaming the piece "<sop>" in the serialized model (same length, still a valid model).
  std::string bytes = model();
  const std::size_t at = bytes.find("<sop>");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "<sXp>");
  try {
    Tokenizer::from_bytes(bytes, "renamed.model");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("renamed.model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("<sop>"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_bytes("not a model", "junk.model"), InputError);
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/tokenizer.model"), InputError);
}

TEST(TokenizerTrainer, ImpossibleVocabSizesAreInputErrors) {
  const auto docs = test_corpus(60);
  try {
    train_tokenizer(docs, {.vocab_size = 20000});
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--vocab-size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("or less"), std::string::npos) << e.what();
  }
  try {
    train_tokenizer(docs, {.vocab_size = 280});  // < 256 bytes + specials + characters
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--vocab-size"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glm::data
