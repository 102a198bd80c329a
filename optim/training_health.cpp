// Per-group sums of squares for the training-health signals (optim/training_health.h).
#include "optim/training_health.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "optim/grad_clip.h"

namespace glm::optim {

int health_group_count(const model::ModelConfig& c) { return c.num_layers + 2; }

std::string health_group_name(const model::ModelConfig& c, int group) {
  if (group == 0) return "embedding";
  if (group == c.num_layers + 1) return "final_layernorm";
  return fmt::format("layers.{}", group - 1);
}

int health_group_of(const model::ModelConfig& c, const model::ParamSpec& spec) {
  if (spec.layer >= 0) return spec.layer + 1;
  return spec.kind == model::ParamKind::embedding ? 0 : c.num_layers + 1;
}

void add_group_sum_squares(const model::ParamLayout& layout, const Tensor& values,
                           ElementRange range, std::span<double> sums) {
  const model::ModelConfig& c = layout.config();
  GLM_CHECK(static_cast<int>(sums.size()) == health_group_count(c),
            "add_group_sum_squares: {} sums for {} groups", sums.size(), health_group_count(c));
  for (const auto& spec : layout.specs()) {
    if (!spec.primary) continue;
    const std::int64_t lo = std::max(spec.offset, range.begin);
    const std::int64_t hi = std::min(spec.offset + spec.numel(), range.end);
    if (lo < hi)
      sums[health_group_of(c, spec)] +=
          local_sum_squares(values, {lo - range.begin, hi - range.begin});
  }
}

}  // namespace glm::optim
