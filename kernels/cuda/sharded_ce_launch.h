// Raw-pointer launchers of the tensor-parallel helpers (sharded_ce_kernels.cu): the bias add
// after a row-parallel product and the three per-shard passes of the vocab-parallel
// cross-entropy. Math and shapes are those of kernels/linear.h (add_bias) and
// kernels/cross_entropy.h (sharded_ce_*).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/cuda/convert_launch.h"

namespace glm::kernels::cuda {

// y [R, n] (any float storage) += b [n] (fp32), row by row.
cudaError_t launch_add_bias(FloatOut y, const float* b, std::int64_t R, std::int64_t n,
                            cudaStream_t s);

// One block per row of logits [R, V]:
//   row_max[r]          = max_j logits[r, j]
//   partials[r] = {sum_j exp(logits[r, j] - M[r]), the target's logit if in the shard else 0}
//                         (both 0 for target < 0)
//   losses[r]           = log(S) + M - target_logit (0 for target < 0); with write_grad the
//                         row becomes grad_scale * (exp(x - M) / S - onehot), zero for target < 0
cudaError_t launch_sharded_ce_row_max(float* row_max, FloatIn logits, std::int64_t R,
                                      std::int64_t V, cudaStream_t s);
cudaError_t launch_sharded_ce_partials(float* partials, FloatIn logits,
                                       const std::int32_t* targets, const float* row_max,
                                       std::int64_t R, std::int64_t V, std::int64_t vocab_start,
                                       cudaStream_t s);
cudaError_t launch_sharded_ce_finish(float* losses, FloatOut logits, const std::int32_t* targets,
                                     const float* row_max, const float* totals, std::int64_t R,
                                     std::int64_t V, std::int64_t vocab_start, float grad_scale,
                                     bool write_grad, cudaStream_t s);

}  // namespace glm::kernels::cuda
