// The GLM blank-infilling objective (docs/design.md section 2): turns windows of raw tokens
// into training samples, deterministically from (seed, global sample index).
//
// [gMASK] samples (gmask_ratio, GLM-130B: 70%), length T:
//   tokens   c_1 .. c_k [gMASK] <sop> s_1 .. s_m          k + m = T - 2, m >= min_gmask_ratio*(T-2)
//   targets  -   ..  -    -     s_1  s_2 .. <eop>          (predict the span, then <eop>)
//   positions 0 .. T-1;  prefix P = k + 1 (bidirectional over the context and [gMASK])
// [MASK] samples (the rest): n raw tokens; spans with Poisson(lambda) lengths (>= 1)
// covering mask_ratio (15%) of them are each replaced by one [MASK] in part A; part B
// appends, for every span in a shuffled order, <sop> s_1 .. s_m predicting s_1 .. s_m <eop>.
//   part A is the prefix (P = |A|); a part-B token takes the position of its [MASK];
//   |A| + |B| = n + 2 * spans <= T, the rest is padding (valid_len < T).
// Randomness comes from Philox keyed by (seed, kMasking) and counted by the global sample
// index, so a sample is the same whatever rank, micro-batch or resume produces it.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "modeldef/batch.h"

namespace glm::data {

struct CollatorConfig {
  double gmask_ratio = 0.7;      // share of [gMASK] samples
  double min_gmask_ratio = 0.2;  // smallest share of a [gMASK] sample that is span
  double mask_ratio = 0.15;      // share of a [MASK] sample's raw tokens inside spans
  double poisson_lambda = 3.0;   // mean span length of [MASK] samples

  static CollatorConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

// The token ids the objective uses (from the tokenizer).
struct ObjectiveTokens {
  std::int32_t mask, gmask, sop, eop, pad;
};

enum class SampleKind { gmask, mask };

class GLMCollator {
 public:
  GLMCollator(const CollatorConfig& config, const ObjectiveTokens& tokens, int seq_len,
              std::uint64_t seed);

  SampleKind kind_of(std::int64_t global_index) const;

  // One sample from raw (T tokens, the window callers provide) into row `row` of batch (allocated by
  // make_batch).
  void fill(modeldef::Batch& batch, int row, std::span<const std::int32_t> raw,
            std::int64_t global_index) const;
  // An empty [B, T] batch with every position padding.
  modeldef::Batch make_batch(int B) const;

 private:
  void fill_gmask(std::int32_t* tok, std::int32_t* pos, std::int32_t* tgt, std::int32_t& P,
                  std::int32_t& L, std::span<const std::int32_t> raw, std::int64_t g) const;
  void fill_mask(std::int32_t* tok, std::int32_t* pos, std::int32_t* tgt, std::int32_t& P,
                 std::int32_t& L, std::span<const std::int32_t> raw, std::int64_t g) const;

  CollatorConfig config_;
  ObjectiveTokens tok_;
  int seq_len_;
  std::uint64_t seed_;
};

}  // namespace glm::data
