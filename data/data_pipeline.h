// Where the micro-batches of training and evaluation come from: a token dataset split, the
// sampler that maps global sample indices to windows, and the GLM collator that turns
// windows into samples.
// A micro-batch is a pure function of its first global sample index (docs/design.md section 5),
// so the pipeline's only state is the caller's count of consumed samples.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/glm_collator.h"
#include "data/sampler.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"
#include "spec/batch.h"

namespace glm::data {

// The held-out split's stream: its sample order and masks are keyed by the run's seed xor
// this salt ("eval"), so training's evaluation and glm-eval draw the same samples.
inline constexpr std::uint64_t kEvalSeedSalt = 0x6576616CULL;

class DataPipeline {
 public:
  // Opens DIR/<split>.h5 and checks it was made with `tokenizer`. seed keys the sample
  // order and the masking; the held-out split uses its own fixed stream.
  DataPipeline(const std::string& dir, const std::string& split, const Tokenizer& tokenizer,
               const CollatorConfig& objective, int seq_len, std::uint64_t seed);

  // Samples [first, first + B) of the global sample stream.
  model::Batch micro_batch(std::int64_t first, int B);

  std::int64_t num_windows() const { return sampler_.num_windows(); }
  const TokenDataset& dataset() const { return *dataset_; }

 private:
  std::unique_ptr<TokenDataset> dataset_;
  Sampler sampler_;
  GLMCollator collator_;
  int seq_len_;
};

// The tokenizer of a prepared data directory (DIR/tokenizer.model).
Tokenizer load_tokenizer(const std::string& dir);

}  // namespace glm::data
