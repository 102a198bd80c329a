// Where the micro-batches of training and evaluation come from: one or several token
// datasets (a blend, data/blend.h), each with the sampler that maps its sample indices to
// windows, and the GLM collator that turns windows into samples.
// A micro-batch is a pure function of its first global sample index (docs/design.md section
// 5): the blend gives sample g its dataset d and that dataset's index k, d's sampler gives the
// window, and the collator's masks are keyed by g. The pipeline's only state is the caller's
// count of consumed samples (and, for a blend, the schedule and counts it resumed from).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/blend.h"
#include "data/glm_collator.h"
#include "data/sampler.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"
#include "modeldef/batch.h"

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
  // A blend: <source path>/<split>.h5 of every source, each checked against `tokenizer`
  // (InputError naming the dataset); source d's epoch permutations are keyed by its own seed
  // (source 0 by `seed` itself, so a blend of one is the one-dataset stream).
  DataPipeline(const std::vector<BlendSource>& sources, const std::string& split,
               const Tokenizer& tokenizer, const CollatorConfig& objective, int seq_len,
               std::uint64_t seed);
  DataPipeline(const DataPipeline&) = delete;
  DataPipeline& operator=(const DataPipeline&) = delete;

  // Samples [first, first + B) of the global sample stream.
  modeldef::Batch micro_batch(std::int64_t first, int B);

  // Continue with `schedule` (the same sources, in order) from global sample `base`, where
  // each source had given base_counts[d] samples (a resume).
  void set_blend(BlendSchedule schedule, std::int64_t base, std::vector<std::int64_t> base_counts);
  const BlendSchedule& blend() const { return *blend_; }
  // Samples each dataset gave before global sample g (g at or after the resume's base).
  std::vector<std::int64_t> samples_per_dataset(std::int64_t g);

  int num_datasets() const { return static_cast<int>(datasets_.size()); }
  const TokenDataset& dataset(int d = 0) const { return *datasets_[d]; }
  std::int64_t num_windows(int d = 0) const { return samplers_[d].num_windows(); }

 private:
  std::vector<std::unique_ptr<TokenDataset>> datasets_;
  std::vector<Sampler> samplers_;
  std::unique_ptr<BlendSchedule> blend_;
  std::unique_ptr<BlendCursor> cursor_;
  GLMCollator collator_;
  int seq_len_;
};

// The tokenizer of a prepared data directory (DIR/tokenizer.model).
Tokenizer load_tokenizer(const std::string& dir);

// The seed of source d's epoch permutations: `seed` for d = 0, otherwise a Philox draw
// keyed by (seed, data order) and counted by d.
std::uint64_t dataset_seed(std::uint64_t seed, int d);

}  // namespace glm::data
