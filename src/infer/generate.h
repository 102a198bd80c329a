// Text generation with the conventions the model was trained with (data/glm_collator.h):
//
// [gMASK] continuation (a prompt without [MASK]):
//   tokens    c_1 .. c_k [gMASK] <sop> | generated ...     until <eop>
//   positions 0 .. k+1                 | k+2, k+3, ...     (1D, counting on)
//   prefix P = k + 1 (the context and [gMASK] are bidirectional; <sop> on is causal)
// [MASK] infilling (the prompt contains the literal text [MASK], encoded as the token):
//   the prompt is part A (P = |A|, positions 0 .. |A|-1); each [MASK] in order gets
//   <sop> s_1 s_2 ... appended, every one of them at the position of that [MASK], until the
//   model predicts <eop>; then the next [MASK]'s <sop> follows (as part B of training
//   appends `<sop> span` per span and never feeds <eop>).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "infer/engine.h"
#include "infer/repetition.h"
#include "infer/sampler.h"

namespace glm::infer {

struct PromptLayout {
  std::vector<std::int32_t> tokens, positions;  // what the prefill runs
  int prefix_len = 0;                           // P
  std::vector<int> mask_positions;              // [MASK] indices (infilling), in order
  bool infill() const { return !mask_positions.empty(); }
};

// The layout of an encoded prompt (see above). A trailing [gMASK] the user typed is kept
// as the generation mask rather than doubled.
PromptLayout layout_prompt(std::span<const std::int32_t> ids, const data::SpecialTokens& sp);

struct GenerateOptions {
  int max_new_tokens = 64;  // over all spans
  int min_new_tokens = 0;   // <eop> cannot end generation before this many tokens (all spans)
  SamplingOptions sampling;
  RepetitionOptions repetition;  // over the whole sequence: prompt, <sop>s and new tokens
};

struct Generation {
  PromptLayout prompt;
  std::vector<std::int32_t> tokens;  // generated ids (<sop>/<eop> not included)
  std::vector<int> span_of_token;    // which [MASK] each token fills (0 for [gMASK])
  std::vector<bool> span_finished;   // <eop> reached for each span
  double prefill_seconds = 0, decode_seconds = 0;
  int decode_steps = 0;
  // The prefill's tokens and the bytes its buffers took at their peak on the engine's
  // device, above what was in use before it (the allocator's count; generate resets that
  // device's peak counter to measure it).
  std::int64_t prefill_tokens = 0;
  double prefill_peak_bytes = 0;
  // Over ranks: of decode_seconds, the time inside the tensor-parallel group's collectives
  // (waiting for the slowest rank included), and how many ran.
  double decode_comm_seconds = 0;
  std::uint64_t decode_collectives = 0;
};

// Why a generation has no text, for the user, or "" when it has some (or none was asked
// for): the model chose <eop> at once, and --min-new-tokens keeps it out.
std::string empty_generation_note(const Generation& g, const GenerateOptions& options);

// on_token(span, id) is called for every generated token as soon as it is chosen.
Generation generate(const Engine& engine, const data::SpecialTokens& sp, int vocab_limit,
                    std::span<const std::int32_t> prompt_ids, const GenerateOptions& options,
                    const std::function<void(int, std::int32_t)>& on_token = {});

}  // namespace glm::infer
