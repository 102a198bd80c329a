// Global gradient-norm clipping (docs/design.md section 5b: clip at 1.0) in three pieces, so a
// parallel run can combine them: each rank sums the squares of the gradient elements it
// owns, the sums are all-reduced, and every rank scales by the same coefficient.
//   norm  = sqrt(sum over all ranks of local_sum_squares)
//   coeff = min(1, max_norm / (norm + 1e-6))           (Megatron / PyTorch clip_grad_norm_)
//   grad *= coeff    (folded into the optimizer's update: AdamW::step's inv_scale)
// The sums accumulate in fp64 over fixed blocks of kSumBlock elements combined in index
// order, so they are bit-identical for any thread count. Gradients may live on the CPU or a
// CUDA device (the device runs its own fixed-order fp64 reduction). Overflow is detected
// separately (kernels::all_finite), so a step can be skipped before any norm is needed.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "modeldef/param_layout.h"
#include "modeldef/param_range.h"

namespace glm::optim {

inline constexpr std::int64_t kSumBlock = 4096;  // elements per fp64 partial sum
inline constexpr double kClipEps = 1e-6;         // added to the norm before dividing

// sum of grad[i]^2 over the range (local frame of grad: 0 .. grad.numel()), in fp64.
// grad: contiguous f32; the one-argument form sums the whole tensor.
double local_sum_squares(const Tensor& grad, modeldef::ElementRange range);
double local_sum_squares(const Tensor& grad);

// min(1, max_norm / (total_norm + kClipEps)); 1 when max_norm <= 0 (clipping off) or the
// norm is not finite (the step is skipped anyway).
double clip_coefficient(double total_norm, double max_norm);

// Sum of squares of the parameters this rank counts in the global norm: the primary pieces
// of `layout` (not the TP-replicated copies on tp_rank > 0, nor the last stage's tied
// embedding copy) within `range` of the flat buffer; `values` holds exactly that range.
// Summed over every rank, it is the squared norm of the whole model's gradient.
double primary_sum_squares(const modeldef::ParamLayout& layout, const Tensor& values,
                           modeldef::ElementRange range);

}  // namespace glm::optim
