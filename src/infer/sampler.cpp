#include "infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/philox.h"

namespace glm::infer {

void validate(const SamplingOptions& o) {
  if (!(o.temperature >= 0.f) || !std::isfinite(o.temperature))
    throw InputError(fmt::format("--temperature {}: must be >= 0", o.temperature));
  if (o.top_k < 0) throw InputError(fmt::format("--top-k {}: must be >= 0", o.top_k));
  if (!(o.top_p > 0.f && o.top_p <= 1.f))
    throw InputError(fmt::format("--top-p {}: must be in (0, 1]", o.top_p));
}

std::int32_t sample_token(std::span<const float> logits, int vocab_limit, const SamplingOptions& o,
                          std::uint64_t step) {
  const int V = std::min<int>(vocab_limit, static_cast<int>(logits.size()));
  GLM_CHECK(V > 0, "sample_token: empty vocabulary");
  if (o.temperature == 0.f || o.top_k == 1)
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.begin() + V) -
                                     logits.begin());
  // candidates sorted by logit, best first (top-k cut first)
  std::vector<std::int32_t> ids(V);
  std::iota(ids.begin(), ids.end(), 0);
  const int k = o.top_k > 0 ? std::min(o.top_k, V) : V;
  auto by_logit = [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), by_logit);
  ids.resize(k);
  // softmax(logits / T) over the candidates, in double
  std::vector<double> p(k);
  const double mx = logits[ids[0]];
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += p[i] = std::exp((logits[ids[i]] - mx) / o.temperature);
  // top-p: the smallest prefix whose mass reaches top_p
  int keep = k;
  if (o.top_p < 1.f) {
    double acc = 0;
    for (int i = 0; i < k; ++i) {
      acc += p[i] / sum;
      if (acc >= o.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double mass = 0;
  for (int i = 0; i < keep; ++i) mass += p[i];
  const philox::Block b = philox::philox4x32_10(
      {static_cast<std::uint32_t>(step), static_cast<std::uint32_t>(step >> 32), 0x73616D70u, 0},
      philox::make_key(o.seed, philox::kSampling));
  const double u = philox::to_uniform(b.v[0]) * mass;
  double acc = 0;
  for (int i = 0; i < keep; ++i) {
    acc += p[i];
    if (u < acc) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace glm::infer
