// Next-token choice from a row of logits: greedy (temperature 0), or sampling from
// softmax(logits / temperature) restricted to the top-k tokens and then to the smallest
// set whose probability reaches top-p. The uniform draw of step s is Philox keyed by
// (seed, Purpose::kSampling) at counter s, so a (seed, prompt) pair always gives the same
// text. Only ids below vocab_limit (the tokenizer's size; the model's vocabulary is padded)
// can be chosen.
#pragma once

#include <cstdint>
#include <span>

#include "modeldef/model_config.h"

namespace glm::infer {

struct SamplingOptions {
  float temperature = 0.f;  // 0 = greedy
  int top_k = 0;            // 0 = no limit
  float top_p = 1.f;        // 1 = no limit
  std::uint64_t seed = modeldef::kDefaultSeed;
};

// InputError naming the option when a value is out of range.
void validate(const SamplingOptions& o);

std::int32_t sample_token(std::span<const float> logits, int vocab_limit, const SamplingOptions& o,
                          std::uint64_t step);

}  // namespace glm::infer
