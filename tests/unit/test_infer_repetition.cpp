// The repetition controls of glm-generate (infer/repetition.h): CTRL's penalty on tokens
// already in the text, the no-repeat n-gram ban, and their option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "infer/repetition.h"

namespace glm::infer {
namespace {

TEST(InferRepetition, PenaltyMakesEverySeenTokenLessLikelyOnce) {
  std::vector<float> z = {2.f, -2.f, 3.f, 0.5f, -1.f};
  const std::vector<std::int32_t> history = {0, 1, 0, 0, 3, 7};  // 7 is beyond the row
  apply_repetition_controls(z, history, {.penalty = 2.f});
  EXPECT_FLOAT_EQ(z[0], 1.f);    // positive: divided, once however often it occurred
  EXPECT_FLOAT_EQ(z[1], -4.f);   // negative: multiplied
  EXPECT_FLOAT_EQ(z[2], 3.f);    // unseen: untouched
  EXPECT_FLOAT_EQ(z[3], 0.25f);
  EXPECT_FLOAT_EQ(z[4], -1.f);
}

TEST(InferRepetition, NoRepeatNgramBansTheTokenThatWouldRepeatAnNgram) {
  // the text ends in "5 6"; "5 6 7" and "5 6 2" occurred: with n = 3, 7 and 2 are banned
  const std::vector<std::int32_t> history = {5, 6, 7, 1, 5, 6, 2, 4, 5, 6};
  std::vector<float> z(9, 1.f);
  apply_repetition_controls(z, history, {.no_repeat_ngram = 3});
  for (int id = 0; id < 9; ++id)
    EXPECT_EQ(std::isinf(z[id]) && z[id] < 0, id == 7 || id == 2) << id;
  // n = 4: the tail "4 5 6" was never followed by a token before
  std::vector<float> w(9, 1.f);
  apply_repetition_controls(w, history, {.no_repeat_ngram = 4});
  for (int id = 0; id < 9; ++id) EXPECT_EQ(w[id], 1.f) << id;
  // n = 2: every token that ever followed a 6 is banned
  std::vector<float> b(9, 1.f);
  apply_repetition_controls(b, history, {.no_repeat_ngram = 2});
  for (int id = 0; id < 9; ++id) EXPECT_EQ(std::isinf(b[id]), id == 7 || id == 2) << id;
}

TEST(InferRepetition, OffChangesNothingAndShortHistoriesAreFine) {
  std::vector<float> z = {1.f, -1.f};
  apply_repetition_controls(z, std::vector<std::int32_t>{0, 1, 0, 1}, {});
  EXPECT_EQ(z, (std::vector<float>{1.f, -1.f}));
  apply_repetition_controls(z, std::vector<std::int32_t>{1}, {.no_repeat_ngram = 3});
  EXPECT_EQ(z, (std::vector<float>{1.f, -1.f}));
  EXPECT_FALSE(RepetitionOptions{}.active());
}

TEST(InferRepetition, OutOfRangeOptionsNameTheOption) {
  for (const RepetitionOptions& o : {RepetitionOptions{.penalty = 0.5f},
                                     RepetitionOptions{.penalty = NAN},
                                     RepetitionOptions{.no_repeat_ngram = -1}}) {
    try {
      validate(o);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_TRUE(m.find("--repetition-penalty") != std::string::npos ||
                  m.find("--no-repeat-ngram-size") != std::string::npos)
          << m;
    }
  }
  EXPECT_NO_THROW(validate({.penalty = 1.3f, .no_repeat_ngram = 3}));
}

}  // namespace
}  // namespace glm::infer
