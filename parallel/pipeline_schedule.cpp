#include "parallel/pipeline_schedule.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace glm::parallel {

std::vector<PipeStep> one_f_one_b(int stage, int stages, int micro_batches) {
  GLM_CHECK(stages >= 1 && stage >= 0 && stage < stages && micro_batches >= 1,
            "1F1B: stage {} of {}, {} micro-batches", stage, stages, micro_batches);
  const int M = micro_batches, warmup = std::min(stages - stage - 1, M);
  std::vector<PipeStep> steps;
  for (int i = 0; i < warmup; ++i) steps.push_back({PipeOp::forward, i});
  for (int i = 0; i < M - warmup; ++i) {
    steps.push_back({PipeOp::forward, warmup + i});
    steps.push_back({PipeOp::backward, i});
  }
  for (int i = M - warmup; i < M; ++i) steps.push_back({PipeOp::backward, i});
  return steps;
}

int pipeline_slots(int stage, int stages, int micro_batches) {
  return std::max(1, std::min(micro_batches, stages - stage));
}

double pipeline_bubble(int stages, int micro_batches) {
  return static_cast<double>(stages - 1) / static_cast<double>(micro_batches + stages - 1);
}

std::vector<int> pipeline_layer_split(int num_layers, int stages, int first_last) {
  if (stages < 1 || num_layers < stages)
    throw InputError(fmt::format("model.num_layers {} does not split over {} pipeline stages "
                                 "(every stage needs at least one layer)",
                                 num_layers, stages));
  std::vector<int> split(stages, 0);
  if (first_last < 0 || stages < 3) {
    for (int s = 0; s < stages; ++s) split[s] = num_layers / stages + (s < num_layers % stages);
    return split;
  }
  const int middle = num_layers - 2 * first_last, inner = stages - 2;
  if (first_last < 1 || middle < inner || middle % inner != 0)
    throw InputError(fmt::format(
        "pipeline split: {} layers on {} stages with {} on the first and last leaves {} for {} "
        "middle stages, which is not a positive multiple",
        num_layers, stages, first_last, middle, inner));
  split.front() = split.back() = first_last;
  for (int s = 1; s + 1 < stages; ++s) split[s] = middle / inner;
  return split;
}

}  // namespace glm::parallel
