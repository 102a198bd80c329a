// Which window of the dataset each global sample reads (docs/design.md section 6).
//
// Global sample g (counted from the start of training, over all ranks) lies in epoch
// e = g / W and reads window perm_e(g mod W), where W is the number of windows and perm_e
// a permutation drawn from Philox keyed by (seed, kDataOrder) and counted by e. Nothing
// depends on which rank asks, in what order, or on earlier calls, so the sampler's state
// is just the count of consumed samples (kept by the trainer and checkpointed).
// Data-parallel rank r of R takes samples [start + r*B_local, start + (r+1)*B_local) of a
// global batch that starts at `start`, so the global batch is the same for every layout.
#pragma once

#include <cstdint>
#include <vector>

namespace glm::data {

class Sampler {
 public:
  Sampler(std::int64_t num_windows, std::uint64_t seed);

  std::int64_t num_windows() const { return num_windows_; }
  std::int64_t epoch_of(std::int64_t global_sample) const { return global_sample / num_windows_; }
  // The window global sample g reads.
  std::int64_t window_of(std::int64_t global_sample);

 private:
  const std::vector<std::int64_t>& permutation(std::int64_t epoch);
  std::int64_t num_windows_;
  std::uint64_t seed_;
  std::int64_t cached_epoch_ = -1;
  std::vector<std::int64_t> perm_;
};

}  // namespace glm::data
