// Held-out perplexity of a model file (glm-eval). The samples are the GLM-objective samples
// the trainer evaluates on (Trainer::evaluate): the dataset's windows in the sampler order
// and masking of seed train.seed ^ data::kEvalSeedSalt, collated with the run's
// objective, loss on target positions only. Sample i is the trainer's held-out sample i, so
// with max_samples = train.eval_iters x train.micro_batch_size (the default) the loss is
// the one the trainer logs as eval_loss, up to the weights' fp16 / INT rounding.
#pragma once

#include <cstdint>
#include <string>

#include "data/tokenizer.h"
#include "infer/engine.h"

namespace glm::infer {

struct PerplexityResult {
  double loss = 0;          // mean target-token cross-entropy (natural log)
  double perplexity = 0;    // exp(loss)
  std::int64_t tokens = 0;  // target tokens
  std::int64_t bytes = 0;   // UTF-8 bytes of text they stand for (data/text_bytes.h)
  double bits_per_byte = 0; // tokenizer-independent
  std::int64_t samples = 0;
  double seconds = 0;
};

// data_file: a glm-preprocess split (DIR/valid.h5); max_samples 0 = the trainer's
// evaluation set size from the exported run config.
PerplexityResult evaluate_perplexity(const Engine& engine, const data::Tokenizer& tokenizer,
                                     const std::string& data_file, std::int64_t max_samples);

}  // namespace glm::infer
