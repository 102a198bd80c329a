#include "data/blend.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm::data {
namespace {

std::vector<double> normalised(const std::vector<double>& w, const std::string& what) {
  double sum = 0;
  for (double x : w) {
    if (!(x > 0) || !std::isfinite(x))
      throw InputError(fmt::format("{}: weight {} must be positive and finite", what, x));
    sum += x;
  }
  std::vector<double> out(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) out[i] = w[i] / sum;
  return out;
}

}  // namespace

BlendSchedule::BlendSchedule(std::vector<BlendSource> sources) : sources_(std::move(sources)) {
  if (sources_.empty()) throw InputError("a data blend needs at least one dataset");
  std::set<std::string> names;
  std::vector<double> w;
  for (const BlendSource& s : sources_) {
    if (!names.insert(s.name).second)
      throw InputError(fmt::format("two datasets of the blend are named '{}': give each a "
                                   "distinct \"name\"",
                                   s.name));
    w.push_back(s.weight);
  }
  const std::vector<double> n = normalised(w, "train.data");
  phases_.push_back({0, 0, n, n, std::vector<double>(n.size(), 0.0)});
}

const BlendPhase& BlendSchedule::phase_at(std::int64_t g) const {
  auto it = std::upper_bound(phases_.begin(), phases_.end(), g,
                             [](std::int64_t x, const BlendPhase& p) { return x < p.start; });
  GLM_CHECK(it != phases_.begin(), "blend: sample {} before the first phase", g);
  return *(it - 1);
}

std::vector<double> BlendSchedule::weights_at(std::int64_t g) const {
  const BlendPhase& p = phase_at(g);
  const std::int64_t i = g - p.start;
  std::vector<double> w(p.to.size());
  for (std::size_t d = 0; d < w.size(); ++d)
    w[d] = i >= p.warmup ? p.to[d]
                         : p.from[d] + (p.to[d] - p.from[d]) * static_cast<double>(i) /
                                           static_cast<double>(p.warmup);
  return w;
}

// sum_{i<g} w_d(i) = T_d(start) + sum over the phase's first m = min(n, warmup) samples of
// from + (to - from) j / warmup, plus to for the remaining n - m.
double BlendSchedule::target(int d, std::int64_t g) const {
  const BlendPhase& p = phase_at(g > 0 ? g - 1 : 0);
  const double n = static_cast<double>(g - p.start);
  const double m = std::min<double>(n, static_cast<double>(p.warmup));
  double t = p.target_at_start[d] + p.to[d] * (n - m);
  if (m > 0) t += p.from[d] * m + (p.to[d] - p.from[d]) * m * (m - 1) / (2.0 * p.warmup);
  return t;
}

void BlendSchedule::change_weights(std::int64_t start, const std::vector<double>& weights,
                                   std::int64_t warmup) {
  GLM_CHECK(start >= phases_.back().start, "blend: a phase at {} before the last one at {}",
            start, phases_.back().start);
  if (weights.size() != sources_.size())
    throw InputError(fmt::format("a blend of {} datasets given {} weights", sources_.size(),
                                 weights.size()));
  if (warmup < 0) throw InputError(fmt::format("blend warm-up of {} samples", warmup));
  const std::vector<double> to = normalised(weights, "train.data");
  for (int d = 0; d < size(); ++d) sources_[d].weight = weights[d];
  // A phase that has not governed any sample yet is replaced; from sample 0 there is
  // nothing to warm up from.
  if (phases_.back().start == start && phases_.size() > 1) phases_.pop_back();
  if (start == 0) {
    phases_ = {{0, 0, to, to, std::vector<double>(to.size(), 0.0)}};
    return;
  }
  BlendPhase p;
  p.start = start;
  p.warmup = warmup;
  p.from = weights_at(start);
  p.to = to;
  for (int d = 0; d < size(); ++d) p.target_at_start.push_back(target(d, start));
  phases_.push_back(std::move(p));
}

nlohmann::json BlendSchedule::to_json() const {
  nlohmann::json src = nlohmann::json::array(), ph = nlohmann::json::array();
  for (const BlendSource& s : sources_)
    src.push_back({{"name", s.name}, {"path", s.path}, {"weight", s.weight}});
  for (const BlendPhase& p : phases_)
    ph.push_back({{"start", p.start},
                  {"warmup", p.warmup},
                  {"from", p.from},
                  {"to", p.to},
                  {"target_at_start", p.target_at_start}});
  return {{"sources", src}, {"phases", ph}};
}

BlendSchedule BlendSchedule::from_json(const nlohmann::json& j, const std::string& source) {
  auto bad = [&](const std::string& what) {
    return InputError(fmt::format("{}: data blend: {}", source, what));
  };
  try {
    BlendSchedule s;
    for (const auto& e : j.at("sources"))
      s.sources_.push_back({e.at("name").get<std::string>(), e.at("path").get<std::string>(),
                            e.at("weight").get<double>()});
    const std::size_t n = s.sources_.size();
    std::int64_t last = -1;
    for (const auto& e : j.at("phases")) {
      BlendPhase p{e.at("start").get<std::int64_t>(), e.at("warmup").get<std::int64_t>(),
                   e.at("from").get<std::vector<double>>(), e.at("to").get<std::vector<double>>(),
                   e.at("target_at_start").get<std::vector<double>>()};
      if (p.from.size() != n || p.to.size() != n || p.target_at_start.size() != n)
        throw bad(fmt::format("phase at sample {} has weights for other than {} datasets",
                              p.start, n));
      if (p.start <= last || p.warmup < 0 || (last < 0 && p.start != 0))
        throw bad(fmt::format("phase at sample {} (warm-up {}) out of order", p.start, p.warmup));
      last = p.start;
      s.phases_.push_back(std::move(p));
    }
    if (n == 0 || s.phases_.empty()) throw bad("no datasets or no phases");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw bad(e.what());
  }
}

BlendCursor::BlendCursor(const BlendSchedule* schedule, std::int64_t base,
                         std::vector<std::int64_t> base_counts)
    : schedule_(schedule), base_(base), base_counts_(std::move(base_counts)) {
  if (base_counts_.empty()) base_counts_.assign(schedule_->size(), 0);
  GLM_CHECK(static_cast<int>(base_counts_.size()) == schedule_->size(),
            "blend cursor: {} counts for {} datasets", base_counts_.size(), schedule_->size());
  g_ = base_;
  counts_ = base_counts_;
}

int BlendCursor::choose(std::int64_t g) const {
  int best = 0;
  double best_gap = 0;
  for (int d = 0; d < schedule_->size(); ++d) {
    const double gap = schedule_->target(d, g + 1) - static_cast<double>(counts_[d]);
    if (d == 0 || gap > best_gap) best_gap = gap, best = d;
  }
  return best;
}

void BlendCursor::seek(std::int64_t g) {
  GLM_CHECK(g >= base_, "blend: sample {} precedes the cursor's base {}", g, base_);
  if (g < g_) {
    g_ = base_;
    counts_ = base_counts_;
  }
  for (; g_ < g; ++g_) ++counts_[choose(g_)];
}

std::pair<int, std::int64_t> BlendCursor::at(std::int64_t g) {
  seek(g);
  const int d = choose(g);
  return {d, counts_[d]};
}

std::vector<std::int64_t> BlendCursor::counts_before(std::int64_t g) {
  seek(g);
  return counts_;
}

}  // namespace glm::data
