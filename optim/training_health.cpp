// Per-group sums of squares for the training-health signals (optim/training_health.h).
#include "optim/training_health.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/adamw.h"
#include "optim/grad_clip.h"

namespace glm::optim {

int health_group_count(const modeldef::ModelConfig& c) { return c.num_layers + 2; }

std::string health_group_name(const modeldef::ModelConfig& c, int group) {
  if (group == 0) return "embedding";
  if (group == c.num_layers + 1) return "final_layernorm";
  return fmt::format("layers.{}", group - 1);
}

int health_group_of(const modeldef::ModelConfig& c, const modeldef::ParamSpec& spec) {
  if (spec.layer >= 0) return spec.layer + 1;
  return spec.kind == modeldef::ParamKind::embedding ? 0 : c.num_layers + 1;
}

void add_group_sum_squares(const modeldef::ParamLayout& layout, const Tensor& values,
                           modeldef::ElementRange range, std::span<double> sums) {
  const modeldef::ModelConfig& c = layout.config();
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

bool add_group_update_squares(const AdamW& opt, std::span<double> update_sq,
                              std::span<double> weight_sq) {
  const modeldef::ParamLayout& layout = opt.layout();
  const modeldef::ModelConfig& c = layout.config();
  const int groups = health_group_count(c);
  GLM_CHECK(static_cast<int>(update_sq.size()) == groups && static_cast<int>(weight_sq.size()) == groups,
            "add_group_update_squares: {} and {} sums for {} groups", update_sq.size(),
            weight_sq.size(), groups);
  if (!opt.master().device().is_cpu() || opt.step_count() == 0) return false;
  const AdamWConfig& cfg = opt.config();
  const kernels::AdamWStepConstants k = kernels::adamw_step_constants(
      cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, opt.step_count(), 1.f);
  const float* P = opt.master().data<float>();
  const float* M = opt.exp_avg().data<float>();
  const float* V = opt.exp_avg_sq().data<float>();
  for (const modeldef::ParamPiece& piece : modeldef::pieces_in_range(layout, opt.range())) {
    const modeldef::ParamSpec& spec = layout.specs()[piece.spec_index];
    if (!spec.primary) continue;
    const double keep = decays(spec.kind, cfg) ? k.decay_keep : 1.0;
    double du = 0, w = 0;
    const std::int64_t b = piece.local_begin, e = b + piece.flat.size();
#pragma omp parallel for reduction(+ : du, w) schedule(static) if (e - b >= (1 << 16))
    for (std::int64_t i = b; i < e; ++i) {
      const double u = double(k.step_size) * M[i] /
                       (std::sqrt(double(V[i])) * k.inv_sqrt_bias2 + k.eps);
      const double d = P[i] - (P[i] + u) / keep;
      du += d * d;
      w += double(P[i]) * P[i];
    }
    update_sq[health_group_of(c, spec)] += du;
    weight_sq[health_group_of(c, spec)] += w;
  }
  return true;
}

}  // namespace glm::optim
