// Blending several prepared datasets into one training stream (docs/design.md section 6).
//
// A blend is a list of sources (a name, a glm-preprocess output directory, a weight) and a
// history of phases: the weights in force from a global sample index on, reached from the
// previous weights linearly over `warmup` samples (GLM-130B changed its blend mid-run and
// needed exactly this to stay stable). Weights are normalised per phase. The target count
// of source d after g samples is T_d(g) = sum_{i<g} w_d(i), in closed form per phase.
//
// Global sample g goes to the source furthest behind its target, d = argmax_d
// (T_d(g+1) - c_d(g)) (the lowest index on a tie), and reads that source's sample c_d(g),
// where c_d(g) counts the earlier samples given to d. So every source's share stays within
// one sample of its target at every g, and the choice is a pure function of the phases and g:
// every rank, every layout and every resume computes the same (d, k) for the same g. Each
// source then maps k to a window with its own epoch permutation (data/sampler.h).
//
//   BlendSchedule s({{"en", "data/en", 0.6}, {"zh", "data/zh", 0.35}, {"mip", "data/mip", 0.05}});
//   BlendCursor c(s);
//   auto [d, k] = c.at(g);              // source d's k-th sample; any g >= the cursor's base
//   s.change_weights(g0, {0.5, 0.4, 0.1}, 10000);   // on resume: warmed up over 10000 samples
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace glm::data {

struct BlendSource {
  std::string name;  // for logs, metrics and per-dataset evaluation (default: the dir name)
  std::string path;  // a glm-preprocess output directory
  double weight = 1;
  bool operator==(const BlendSource&) const = default;
};

// One phase of a blend's weights (normalised).
struct BlendPhase {
  std::int64_t start = 0;    // first global sample it governs
  std::int64_t warmup = 0;   // samples over which the weights move from `from` to `to`
  std::vector<double> from, to;
  std::vector<double> target_at_start;  // T_d(start)
};

class BlendSchedule {
 public:
  // One phase from sample 0 at the sources' weights. InputError when there is no source,
  // a weight is not positive and finite, or two sources share a name.
  explicit BlendSchedule(std::vector<BlendSource> sources);

  const std::vector<BlendSource>& sources() const { return sources_; }
  const std::vector<BlendPhase>& phases() const { return phases_; }
  int size() const { return static_cast<int>(sources_.size()); }

  // The normalised weights in force at sample g, and T_d(g).
  std::vector<double> weights_at(std::int64_t g) const;
  double target(int d, std::int64_t g) const;

  // A new phase from sample `start` (at or after the last phase's start): the weights move
  // linearly from those in force at `start` to `weights` (normalised) over `warmup`
  // samples. The sources' weights become `weights`.
  void change_weights(std::int64_t start, const std::vector<double>& weights,
                      std::int64_t warmup);

  // The sources and phases, for a checkpoint's meta.json; from_json checks them (InputError
  // naming `source` and the key).
  nlohmann::json to_json() const;
  static BlendSchedule from_json(const nlohmann::json& j, const std::string& source);

 private:
  BlendSchedule() = default;
  const BlendPhase& phase_at(std::int64_t g) const;
  std::vector<BlendSource> sources_;
  std::vector<BlendPhase> phases_;
};

// Walks a schedule forward from a base (sample g0 with every source's count there), so the
// (source, index) of any later sample costs the samples in between, O(sources) each.
class BlendCursor {
 public:
  explicit BlendCursor(const BlendSchedule* schedule, std::int64_t base = 0,
                       std::vector<std::int64_t> base_counts = {});

  // Source d and its sample index k for global sample g >= base (an earlier g is an
  // internal error: the stream is only ever read forward from where training resumed).
  std::pair<int, std::int64_t> at(std::int64_t g);
  // Samples each source has been given before global sample g.
  std::vector<std::int64_t> counts_before(std::int64_t g);

 private:
  void seek(std::int64_t g);         // position the cursor at g (counts before g)
  int choose(std::int64_t g) const;  // the source of sample g, the cursor being at g
  const BlendSchedule* schedule_;
  std::int64_t base_ = 0;
  std::vector<std::int64_t> base_counts_;
  std::int64_t g_ = 0;
  std::vector<std::int64_t> counts_;
};

}  // namespace glm::data
