// Repetition controls of generation, as Hugging Face's generate() offers them: small models
// decoded greedily fall into loops ("，不，不，不"), and these are the usual cures.
//   penalty (--repetition-penalty, CTRL's rule): the logit of every token already in the
//     sequence (prompt and generated) is divided by the penalty where positive and
//     multiplied by it where negative, so it always becomes less likely. 1 = off.
//   no_repeat_ngram (--no-repeat-ngram-size n): a token that would complete an n-gram the
//     sequence already holds is ruled out (logit -inf). 0 = off.
//
//   apply_repetition_controls(row, history, {.penalty = 1.3f, .no_repeat_ngram = 3});
#pragma once

#include <cstdint>
#include <span>

namespace glm::infer {

struct RepetitionOptions {
  float penalty = 1.f;
  int no_repeat_ngram = 0;
  bool active() const { return penalty != 1.f || no_repeat_ngram > 0; }
};

// InputError naming the option when a value is out of range.
void validate(const RepetitionOptions& o);

// Adjusts one row of next-token logits for the sequence so far (`history`, oldest first).
void apply_repetition_controls(std::span<float> logits, std::span<const std::int32_t> history,
                               const RepetitionOptions& o);

}  // namespace glm::infer
