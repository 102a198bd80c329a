#include "data/glm_collator.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_fields.h"
#include "core/philox.h"

namespace glm::data {
namespace {

// A stream of uniform numbers for one sample: Philox counted by (sample, draw).
class SampleRng {
 public:
  SampleRng(std::uint64_t seed, std::int64_t g) : key_(philox::make_key(seed, philox::kMasking)), g_(g) {}
  std::uint32_t next_u32() {
    if (lane_ == 4) {
      auto u = static_cast<std::uint64_t>(g_);
      block_ = philox::philox4x32_10({static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(u >> 32),
                                      counter_++, 0x6C6D},
                                     key_);
      lane_ = 0;
    }
    return block_.v[lane_++];
  }
  double uniform() { return philox::to_uniform(next_u32()); }
  // integer in [lo, hi]
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  // Poisson(lambda) by inversion (lambda is small: a handful of iterations).
  int poisson(double lambda) {
    double u = uniform(), p = std::exp(-lambda), cdf = p;
    int k = 0;
    while (u > cdf && k < 1000) {
      ++k;
      p *= lambda / k;
      cdf += p;
    }
    return k;
  }

 private:
  philox::Key key_;
  std::int64_t g_;
  std::uint32_t counter_ = 0;
  philox::Block block_{};
  int lane_ = 4;
};

}  // namespace

CollatorConfig CollatorConfig::from_json(const nlohmann::json& j, const std::string& source) {
  CollatorConfig c;
  JsonFields f(j, "objective", source);
  f.get("gmask_ratio", c.gmask_ratio, 0.0, 1.0);
  f.get("min_gmask_ratio", c.min_gmask_ratio, 0.0, 0.95);
  f.get("mask_ratio", c.mask_ratio, 0.01, 0.5);
  f.get("poisson_lambda", c.poisson_lambda, 0.1, 20.0);
  throw_if_problems(f.finish(), source);
  return c;
}

nlohmann::json CollatorConfig::to_json() const {
  return {{"gmask_ratio", gmask_ratio},
          {"min_gmask_ratio", min_gmask_ratio},
          {"mask_ratio", mask_ratio},
          {"poisson_lambda", poisson_lambda}};
}

GLMCollator::GLMCollator(const CollatorConfig& config, const ObjectiveTokens& tokens, int seq_len,
                         std::uint64_t seed)
    : config_(config), tok_(tokens), seq_len_(seq_len), seed_(seed) {
  if (seq_len < 8) throw InputError(fmt::format("model.seq_length {} is too short for GLM samples (>= 8)", seq_len));
}

SampleKind GLMCollator::kind_of(std::int64_t g) const {
  SampleRng rng(seed_, g);
  return rng.uniform() < config_.gmask_ratio ? SampleKind::gmask : SampleKind::mask;
}

modeldef::Batch GLMCollator::make_batch(int B) const {
  modeldef::Batch b;
  const std::int64_t T = seq_len_;
  b.tokens = Tensor::empty({B, T}, DType::i32);
  b.positions = Tensor::zeros({B, T}, DType::i32);
  b.targets = Tensor::empty({B, T}, DType::i32);
  b.prefix_len = Tensor::zeros({B}, DType::i32);
  b.valid_len = Tensor::zeros({B}, DType::i32);
  std::fill_n(b.tokens.data<std::int32_t>(), B * T, tok_.pad);
  std::fill_n(b.targets.data<std::int32_t>(), B * T, -1);
  return b;
}

void GLMCollator::fill(modeldef::Batch& b, int row, std::span<const std::int32_t> raw,
                       std::int64_t g) const {
  GLM_CHECK(static_cast<int>(raw.size()) >= seq_len_, "collator needs {} raw tokens, got {}",
            seq_len_, raw.size());
  const std::int64_t T = seq_len_;
  std::int32_t* tok = b.tokens.data<std::int32_t>() + row * T;
  std::int32_t* pos = b.positions.data<std::int32_t>() + row * T;
  std::int32_t* tgt = b.targets.data<std::int32_t>() + row * T;
  std::fill_n(tok, T, tok_.pad);
  std::fill_n(pos, T, 0);
  std::fill_n(tgt, T, -1);
  std::int32_t P = 0, L = 0;
  if (kind_of(g) == SampleKind::gmask)
    fill_gmask(tok, pos, tgt, P, L, raw, g);
  else
    fill_mask(tok, pos, tgt, P, L, raw, g);
  b.prefix_len.data<std::int32_t>()[row] = P;
  b.valid_len.data<std::int32_t>()[row] = L;
}

void GLMCollator::fill_gmask(std::int32_t* tok, std::int32_t* pos, std::int32_t* tgt,
                             std::int32_t& P, std::int32_t& L, std::span<const std::int32_t> raw,
                             std::int64_t g) const {
  SampleRng rng(seed_, g);
  rng.uniform();  // the kind draw
  const int n = seq_len_ - 2;  // context + span
  const int min_span = std::max(1, static_cast<int>(std::ceil(config_.min_gmask_ratio * n)));
  const int k = static_cast<int>(rng.between(1, n - min_span));  // context length, uniform
  const int m = n - k;
  for (int i = 0; i < k; ++i) tok[i] = raw[i];
  tok[k] = tok_.gmask;
  tok[k + 1] = tok_.sop;
  for (int i = 0; i < m; ++i) tok[k + 2 + i] = raw[k + i];
  for (int i = 0; i < seq_len_; ++i) pos[i] = i;
  // the token at position t predicts the one after it; the last span token predicts <eop>
  for (int i = k + 1; i < seq_len_ - 1; ++i) tgt[i] = tok[i + 1];
  tgt[seq_len_ - 1] = tok_.eop;
  P = k + 1;
  L = seq_len_;
}

void GLMCollator::fill_mask(std::int32_t* tok, std::int32_t* pos, std::int32_t* tgt,
                            std::int32_t& P, std::int32_t& L, std::span<const std::int32_t> raw,
                            std::int64_t g) const {
  SampleRng rng(seed_, g);
  rng.uniform();  // the kind draw
  // Raw length n chosen so that n + 2*spans ~ T: spans ~ n * ratio / lambda.
  const double spans_per_token = config_.mask_ratio / config_.poisson_lambda;
  int n = static_cast<int>(seq_len_ / (1.0 + 2.0 * spans_per_token));
  const int want = std::max(1, static_cast<int>(std::lround(config_.mask_ratio * n)));
  std::vector<int> lens;
  int covered = 0;
  while (covered < want) {
    int len = std::min(std::max(1, rng.poisson(config_.poisson_lambda)), want - covered);
    lens.push_back(len);
    covered += len;
  }
  // Spans need a separating unmasked token each, and everything must fit in T.
  while (!lens.empty() && (n + 2 * static_cast<int>(lens.size()) > seq_len_ ||
                           n - covered < static_cast<int>(lens.size()) + 1)) {
    covered -= lens.back();
    lens.pop_back();
  }
  const int S = static_cast<int>(lens.size());
  // Place spans: distribute the n - covered unmasked tokens into S + 1 gaps, inner gaps
  // at least 1 so neighbouring spans never merge (a random composition).
  const int free_tokens = n - covered - (S > 0 ? S - 1 : 0);
  std::vector<int> cuts(S);
  for (int i = 0; i < S; ++i) cuts[i] = static_cast<int>(rng.between(0, free_tokens));
  std::sort(cuts.begin(), cuts.end());
  std::vector<int> start(S);
  for (int i = 0, prev_cut = 0, cursor = 0; i < S; ++i) {
    cursor += cuts[i] - prev_cut + (i > 0 ? 1 : 0);
    start[i] = cursor;
    cursor += lens[i];
    prev_cut = cuts[i];
  }
  // Part A: raw tokens with each span replaced by one [MASK]; remember its position.
  std::vector<int> mask_pos(S);
  int a = 0;
  for (int i = 0, s = 0; i < n;) {
    if (s < S && i == start[s]) {
      mask_pos[s] = a;
      tok[a] = tok_.mask;
      pos[a] = a;
      ++a;
      i += lens[s++];
    } else {
      tok[a] = raw[i];
      pos[a] = a;
      ++a;
      ++i;
    }
  }
  P = a;
  // Part B: spans in a shuffled order (Fisher-Yates), each <sop> s_1 .. s_m.
  std::vector<int> order(S);
  for (int i = 0; i < S; ++i) order[i] = i;
  for (int i = S - 1; i > 0; --i) std::swap(order[i], order[rng.between(0, i)]);
  int t = a;
  for (int s : order) {
    tok[t] = tok_.sop;
    pos[t] = mask_pos[s];
    tgt[t] = raw[start[s]];
    ++t;
    for (int j = 0; j < lens[s]; ++j, ++t) {
      tok[t] = raw[start[s] + j];
      pos[t] = mask_pos[s];
      tgt[t] = j + 1 < lens[s] ? raw[start[s] + j + 1] : tok_.eop;
    }
  }
  L = t;
}

}  // namespace glm::data
