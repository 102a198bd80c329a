// Trains the run's SentencePiece tokenizer on documents (glm-preprocess without
// --tokenizer). The model is built for exact round trips and for bilingual text:
//   - unigram model: SentencePiece's default and its fastest trainer at these vocabulary
//     sizes (its BPE trainer rescans the corpus per merge), and a language model over
//     pieces lets later work sample segmentations;
//   - identity normalisation, no whitespace folding: decode(encode(t)) == t for every
//     valid UTF-8 text, which a data pipeline must be able to assume;
//   - byte fallback: characters outside the vocabulary become <0xNN> byte pieces, so no
//     text is ever unknown (newlines and tabs take this path, see the .cpp);
//   - the six special tokens as user-defined symbols, then <unk> is id 0; no <s>/</s>
//     (GLM brackets spans with <sop>/<eop>);
//   - character coverage 0.9995 (rare CJK characters fall back to bytes), digits split.
// The vocabulary size is a hard limit so a config's vocab_size matches the model exactly;
// a corpus too small for the requested size is an InputError that names the largest size
// SentencePiece can reach.
//
//   std::string model = train_tokenizer(texts, {.vocab_size = 8000});
//   write_file_atomically(dir + "/tokenizer.model", model);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace glm::data {

struct TokenizerTrainOptions {
  int vocab_size = 8000;
  int num_threads = 0;                     // 0: every core
  std::int64_t max_sentences = 1'000'000;  // lines sampled (shuffled) for training
  double character_coverage = 0.9995;
  std::uint32_t seed = 1234;  // SentencePiece's sampling/shuffle seed
};

// Trains on the lines of `documents` and returns the serialized model (the bytes of a
// tokenizer.model file). InputError when the corpus cannot give that vocabulary size.
std::string train_tokenizer(std::span<const std::string> documents,
                            const TokenizerTrainOptions& options);

}  // namespace glm::data
