// Training-health sums per parameter group (docs/design.md section 5b): the gradient norm of
// the embedding, each transformer layer and the final LayerNorm, the signal GLM-130B's
// operators watched before spikes (the embedding's gradient norm ran orders of magnitude
// above the rest).
//
// Like the global gradient norm (optim/grad_clip.h), each rank sums the squares of the
// elements it counts (the primary pieces within its range of the flat buffer), the sums are
// all-reduced over every rank, and the square roots give the whole model's per-group norms.
//
//   std::vector<double> g(health_group_count(config));
//   add_group_sum_squares(layout, grads, range, g);   // then all-reduce, sqrt, / loss scale
#pragma once

#include <span>
#include <string>

#include "core/tensor.h"
#include "modeldef/param_layout.h"
#include "modeldef/param_range.h"
#include "optim/adamw.h"

namespace glm::optim {

// Groups: 0 the embedding (the tied head included), 1 + l layer l, num_layers + 1 the final
// LayerNorm.
int health_group_count(const modeldef::ModelConfig& c);
std::string health_group_name(const modeldef::ModelConfig& c,
                              int group);  // "embedding", "layers.3"
int health_group_of(const modeldef::ModelConfig& c, const modeldef::ParamSpec& spec);

// sums[group] += the sum of squares of `values` over the primary pieces of each group within
// `range` of the flat buffer (`values` holds exactly that range; f32, CPU or CUDA), in fp64.
void add_group_sum_squares(const modeldef::ParamLayout& layout, const Tensor& values,
                           modeldef::ElementRange range, std::span<double> sums);

// After an AdamW step (not a skipped one): update_sq[group] += |dW|^2 of this step's update
// and weight_sq[group] += |W|^2 of the updated weights, over the primary pieces of the
// optimizer's range, in fp64. The update is reconstructed from the moments, not from a copy
// of the old weights (which would cost 4 bytes a parameter): for an element with
// u = step_size * m / (sqrt(v) * inv_sqrt_bias2 + eps) and keep = 1 - lr*wd (decaying) or 1,
// kernels/adamw.h's p_new = p_old * keep - u gives dW = p_new - (p_new + u) / keep. The
// update ratio |dW| / |W| of a group follows after the all-reduce. Needs the optimizer's
// state in host memory: false, nothing added, when it lives on a GPU.
bool add_group_update_squares(const AdamW& opt, std::span<double> update_sq,
                              std::span<double> weight_sq);

}  // namespace glm::optim
