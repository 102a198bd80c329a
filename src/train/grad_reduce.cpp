#include "train/grad_reduce.h"

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "parallel/tensor_span.h"

namespace glm::train {

LayerwiseGradReduce::LayerwiseGradReduce(parallel::Communicator& dp,
                                         const modeldef::ParamLayout& layout, Tensor flat)
    : dp_(dp), flat_(std::move(flat)) {
  GLM_CHECK(flat_.numel() == layout.total(), "gradient buffer {} for a layout of {} elements",
            flat_.describe(), layout.total());
  // Each layer's parameters are contiguous in the flat buffer (ParamLayout adds them layer
  // by layer); a range runs from its first parameter to the next parameter after it, so
  // alignment padding travels with the parameter before it.
  const auto& specs = layout.specs();
  int lo = std::numeric_limits<int>::max(), hi = -1;
  for (const auto& s : specs)
    if (s.layer >= 0) {
      lo = std::min(lo, s.layer);
      hi = std::max(hi, s.layer);
    }
  first_layer_ = hi < 0 ? 0 : lo;
  layers_.assign(hi < 0 ? 0 : hi - lo + 1, Range{-1, -1});
  std::vector<std::pair<std::int64_t, int>> starts;  // (offset, layer or -1)
  for (const auto& s : specs) starts.push_back({s.offset, s.layer});
  std::sort(starts.begin(), starts.end());
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::int64_t b = starts[i].first;
    const std::int64_t e = i + 1 < starts.size() ? starts[i + 1].first : layout.total();
    const int l = starts[i].second;
    if (l >= 0) {
      Range& r = layers_[l - first_layer_];
      GLM_CHECK(r.end < 0 || r.end == b, "layer {}'s parameters are not contiguous", l);
      if (r.begin < 0) r.begin = b;
      r.end = e;
    } else if (!rest_.empty() && rest_.back().end == b) {
      rest_.back().end = e;
    } else {
      rest_.push_back({b, e});
    }
  }
}

LayerwiseGradReduce::~LayerwiseGradReduce() {
  for (auto& w : pending_) w->wait();
}

void LayerwiseGradReduce::start(Range& r) {
  if (r.started || r.end <= r.begin) return;
  r.started = true;
  Tensor part = flat_.slice(0, r.begin, r.end);
  pending_.push_back(dp_.all_reduce_sum_start(parallel::floats(dp_, part)));
}

void LayerwiseGradReduce::layer_done(int layer) {
  const int i = layer - first_layer_;
  GLM_CHECK(i >= 0 && i < static_cast<int>(layers_.size()), "layer {} is not in this shard", layer);
  start(layers_[i]);
}

void LayerwiseGradReduce::finish() {
  for (Range& r : layers_) start(r);
  for (Range& r : rest_) start(r);
  for (auto& w : pending_) w->wait();
  pending_.clear();
}

}  // namespace glm::train
