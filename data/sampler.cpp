#include "data/sampler.h"

#include "core/error.h"
#include "core/philox.h"

namespace glm::data {

Sampler::Sampler(std::int64_t num_windows, std::uint64_t seed)
    : num_windows_(num_windows), seed_(seed) {
  if (num_windows <= 0) throw InputError("the dataset holds no complete sample window");
}

std::int64_t Sampler::window_of(std::int64_t g) {
  GLM_CHECK(g >= 0, "negative sample index {}", g);
  return permutation(epoch_of(g))[g % num_windows_];
}

const std::vector<std::int64_t>& Sampler::permutation(std::int64_t epoch) {
  if (epoch == cached_epoch_) return perm_;
  // Fisher-Yates with Philox draws counted by (epoch, i): the same for every process.
  const philox::Key key = philox::make_key(seed_, philox::kDataOrder);
  perm_.resize(num_windows_);
  for (std::int64_t i = 0; i < num_windows_; ++i) perm_[i] = i;
  for (std::int64_t i = num_windows_ - 1; i > 0; --i) {
    auto b = philox::philox4x32_10({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i >> 32),
                                    static_cast<std::uint32_t>(epoch), 0x5A4D},
                                   key);
    std::uint64_t r = (std::uint64_t{b.v[0]} << 32) | b.v[1];
    std::swap(perm_[i], perm_[static_cast<std::int64_t>(r % static_cast<std::uint64_t>(i + 1))]);
  }
  cached_epoch_ = epoch;
  return perm_;
}

}  // namespace glm::data
