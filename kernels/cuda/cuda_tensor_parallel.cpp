// Tensor-level CUDA ops of the tensor-parallel layers (declared in cuda_linear.h and
// cuda_activations.h): add_bias and the vocab-parallel cross-entropy passes, with the
// argument checks of their CPU counterparts (kernels/cpu/bias.cpp, cross_entropy_sharded.cpp).
#include <algorithm>
#include <climits>

#include "kernels/cuda/cuda_activations.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_linear.h"
#include "kernels/cuda/cuda_stream.h"
#include "kernels/cuda/sharded_ce_launch.h"

namespace glm::kernels::cuda {
namespace {

void check_ce(const char* op, const Tensor& logits, const Tensor* targets, const Tensor& per_row,
              std::int64_t per_row_cols) {
  require_f32(op, "logits", logits);
  require_f32(op, "per-row values", per_row);
  GLM_CHECK(logits.dim() == 2, "{}: logits must be [R, V_local], got {}", op,
            shape_str(logits.shape()));
  GLM_CHECK(logits.size(0) < INT_MAX, "{}: {} rows exceed the int32 row index", op, logits.size(0));
  require_numel(op, "per-row values", per_row, logits.size(0) * per_row_cols);
  if (targets) {
    require_i32(op, "targets", *targets);
    require_numel(op, "targets", *targets, logits.size(0));
  }
}

}  // namespace

void add_bias(Tensor& y, const Tensor& b) {
  constexpr const char* op = "cuda::add_bias";
  require_f32(op, "y", y);
  require_f32(op, "b", b);
  const std::int64_t n = b.numel(), R = y.numel() / std::max<std::int64_t>(n, 1);
  GLM_CHECK(R * n == y.numel(), "{}: y {} is not rows of b {}", op, y.describe(), b.describe());
  check_launch(launch_add_bias(y.data<float>(), b.data<float>(), R, n, current_stream()), op);
}

void sharded_ce_row_max(Tensor& row_max, const Tensor& logits) {
  constexpr const char* op = "cuda::sharded_ce_row_max";
  check_ce(op, logits, nullptr, row_max, 1);
  check_launch(launch_sharded_ce_row_max(row_max.data<float>(), logits.data<float>(),
                                         logits.size(0), logits.size(1), current_stream()),
               op);
}

void sharded_ce_partials(Tensor& partials, const Tensor& logits, const Tensor& targets,
                         const Tensor& row_max, std::int64_t vocab_start) {
  constexpr const char* op = "cuda::sharded_ce_partials";
  check_ce(op, logits, &targets, partials, 2);
  require_f32(op, "row_max", row_max);
  require_numel(op, "row_max", row_max, logits.size(0));
  check_launch(launch_sharded_ce_partials(partials.data<float>(), logits.data<float>(),
                                          targets.data<std::int32_t>(), row_max.data<float>(),
                                          logits.size(0), logits.size(1), vocab_start,
                                          current_stream()),
               op);
}

void sharded_ce_finish(Tensor& losses, Tensor& logits, const Tensor& targets,
                       const Tensor& row_max, const Tensor& totals, std::int64_t vocab_start,
                       float grad_scale, bool write_grad) {
  constexpr const char* op = "cuda::sharded_ce_finish";
  check_ce(op, logits, &targets, totals, 2);
  require_f32(op, "losses", losses);
  require_numel(op, "losses", losses, logits.size(0));
  require_f32(op, "row_max", row_max);
  require_numel(op, "row_max", row_max, logits.size(0));
  check_launch(launch_sharded_ce_finish(losses.data<float>(), logits.data<float>(),
                                        targets.data<std::int32_t>(), row_max.data<float>(),
                                        totals.data<float>(), logits.size(0), logits.size(1),
                                        vocab_start, grad_scale, write_grad, current_stream()),
               op);
}

}  // namespace glm::kernels::cuda
