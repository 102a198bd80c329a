#include "infer/repetition.h"

#include <cmath>
#include <unordered_set>

#include "core/error.h"

namespace glm::infer {

void validate(const RepetitionOptions& o) {
  if (!(o.penalty >= 1.f) || !std::isfinite(o.penalty))
    throw InputError(fmt::format("--repetition-penalty {}: must be >= 1 (1 = off)", o.penalty));
  if (o.no_repeat_ngram < 0)
    throw InputError(
        fmt::format("--no-repeat-ngram-size {}: must be >= 0 (0 = off)", o.no_repeat_ngram));
}

void apply_repetition_controls(std::span<float> logits, std::span<const std::int32_t> history,
                               const RepetitionOptions& o) {
  const auto V = static_cast<std::int64_t>(logits.size());
  auto in_row = [V](std::int32_t id) { return id >= 0 && id < V; };
  if (o.penalty != 1.f) {
    std::unordered_set<std::int32_t> seen(history.begin(), history.end());
    for (std::int32_t id : seen)
      if (in_row(id)) logits[id] = logits[id] > 0 ? logits[id] / o.penalty : logits[id] * o.penalty;
  }
  const auto n = static_cast<std::size_t>(o.no_repeat_ngram);
  if (n == 0 || history.size() + 1 < n) return;
  // the last n-1 tokens; every earlier occurrence of them bans the token that followed it
  const std::span<const std::int32_t> tail = history.last(n - 1);
  for (std::size_t start = 0; start + n <= history.size(); ++start) {
    bool match = true;
    for (std::size_t i = 0; i + 1 < n && match; ++i) match = history[start + i] == tail[i];
    const std::int32_t next = history[start + n - 1];
    if (match && in_row(next)) logits[next] = -INFINITY;
  }
}

}  // namespace glm::infer
