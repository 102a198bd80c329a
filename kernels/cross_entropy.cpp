// The cross-entropy ops' entries, fused and vocab-parallel: checked once here, then run by
// kernels/cpu/cross_entropy{,_sharded}.cpp or kernels/cuda/{cross_entropy,sharded_ce}_kernels.cu.
// Both backends read and write 16-bit logits natively; the small per-row tensors (losses,
// row maxima, sums) go through Wide when 16-bit.
// Targets are data, checked by each backend (the CPU before the pass, CUDA on the device,
// reported after the kernel) with one message.
#include "kernels/cross_entropy.h"

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_flag.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/pointwise_launch.h"
#include "kernels/cuda/sharded_ce_launch.h"
#endif

namespace glm::kernels {
namespace {

// The CUDA kernels index rows with int32.
[[maybe_unused]] void require_int_rows(const char* op, std::int64_t R) {
  GLM_CHECK(R < INT32_MAX, "{}: {} rows exceed the int32 row index", op, R);
}

// A vocab-parallel pass: logits [R, V_local], per-row values [R, per_row_cols], targets [R]
// and row_max [R] where the pass reads them.
void check_sharded(const char* op, const Tensor& logits, const Tensor* targets,
                   const Tensor* row_max, const Tensor& per_row, std::int64_t per_row_cols) {
  require_float_storage(op, "logits", logits);
  require_f32(op, "per-row values", per_row);
  GLM_CHECK(logits.dim() == 2, "{}: logits must be [R, V_local], got {}", op,
            shape_str(logits.shape()));
  const std::int64_t R = logits.size(0);
  require_numel(op, "per-row values", per_row, R * per_row_cols);
  if (targets) {
    require_i32(op, "targets", *targets);
    require_numel(op, "targets", *targets, R);
  }
  if (row_max) {
    require_f32(op, "row_max", *row_max);
    require_numel(op, "row_max", *row_max, R);
  }
}

}  // namespace

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets, float grad_scale,
                           bool write_grad) {
  constexpr const char* op = "softmax_cross_entropy";
  [[maybe_unused]] const Device dev =
      op_device(op, {{"losses", losses}, {"logits", logits}, {"targets", targets}});
  if (is_16bit(losses)) {
    Wide L(losses, Wide::out);
    softmax_cross_entropy(*L, logits, targets, grad_scale, write_grad);
    return L.store();
  }
  require_f32(op, "losses", losses);
  require_float_storage(op, "logits", logits);
  require_i32(op, "targets", targets);
  GLM_CHECK(logits.dim() == 2, "{}: logits must be [R, V], got {}", op, shape_str(logits.shape()));
  const std::int64_t R = logits.size(0), V = logits.size(1);
  require_numel(op, "targets", targets, R);
  require_numel(op, "losses", losses, R);
  GLM_CHECK(V > 0 || R == 0, "{}: empty vocabulary", op);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    require_int_rows(op, R);
    cuda::DeviceFlag bad(INT_MAX);
    cuda::check_launch(cuda::launch_softmax_cross_entropy(
                           losses.data<float>(), cuda::float_out(logits),
                           targets.data<std::int32_t>(), R, V, grad_scale, write_grad, bad.get(),
                           cuda::current_stream()),
                       op);
    const std::int32_t r = bad.read();
    if (r != INT_MAX)
      throw InputError(
          fmt::format("cross-entropy: target {} at row {} is outside the vocabulary [0, {})",
                      cuda::read_i32(targets, r), r, V));
    return;
  }
#endif
  cpu::softmax_cross_entropy(losses, logits, targets, grad_scale, write_grad);
}

void sharded_ce_row_max(Tensor& row_max, const Tensor& logits) {
  constexpr const char* op = "sharded_ce_row_max";
  [[maybe_unused]] const Device dev = op_device(op, {{"row_max", row_max}, {"logits", logits}});
  if (is_16bit(row_max)) {
    Wide M(row_max, Wide::out);
    sharded_ce_row_max(*M, logits);
    return M.store();
  }
  check_sharded(op, logits, nullptr, nullptr, row_max, 1);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    require_int_rows(op, logits.size(0));
    return cuda::check_launch(
        cuda::launch_sharded_ce_row_max(row_max.data<float>(), cuda::float_in(logits),
                                        logits.size(0), logits.size(1), cuda::current_stream()),
        op);
  }
#endif
  cpu::sharded_ce_row_max(row_max, logits);
}

void sharded_ce_partials(Tensor& partials, const Tensor& logits, const Tensor& targets,
                         const Tensor& row_max, std::int64_t vocab_start) {
  constexpr const char* op = "sharded_ce_partials";
  [[maybe_unused]] const Device dev = op_device(
      op, {{"partials", partials}, {"logits", logits}, {"targets", targets}, {"row_max", row_max}});
  if (any_16bit({&partials, &row_max})) {
    Wide P(partials, Wide::out);
    sharded_ce_partials(*P, logits, targets, *Wide(row_max), vocab_start);
    return P.store();
  }
  check_sharded(op, logits, &targets, &row_max, partials, 2);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    require_int_rows(op, logits.size(0));
    return cuda::check_launch(
        cuda::launch_sharded_ce_partials(partials.data<float>(), cuda::float_in(logits),
                                         targets.data<std::int32_t>(), row_max.data<float>(),
                                         logits.size(0), logits.size(1), vocab_start,
                                         cuda::current_stream()),
        op);
  }
#endif
  cpu::sharded_ce_partials(partials, logits, targets, row_max, vocab_start);
}

void sharded_ce_finish(Tensor& losses, Tensor& logits, const Tensor& targets, const Tensor& row_max,
                       const Tensor& totals, std::int64_t vocab_start, float grad_scale,
                       bool write_grad) {
  constexpr const char* op = "sharded_ce_finish";
  [[maybe_unused]] const Device dev = op_device(op, {{"losses", losses},
                                                     {"logits", logits},
                                                     {"targets", targets},
                                                     {"row_max", row_max},
                                                     {"totals", totals}});
  if (any_16bit({&losses, &row_max, &totals})) {
    Wide L(losses, Wide::out);
    sharded_ce_finish(*L, logits, targets, *Wide(row_max), *Wide(totals), vocab_start,
                      grad_scale, write_grad);
    return L.store();
  }
  check_sharded(op, logits, &targets, &row_max, totals, 2);
  require_f32(op, "losses", losses);
  require_numel(op, "losses", losses, logits.size(0));
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    require_int_rows(op, logits.size(0));
    return cuda::check_launch(
        cuda::launch_sharded_ce_finish(losses.data<float>(), cuda::float_out(logits),
                                       targets.data<std::int32_t>(), row_max.data<float>(),
                                       totals.data<float>(), logits.size(0), logits.size(1),
                                       vocab_start, grad_scale, write_grad, cuda::current_stream()),
        op);
  }
#endif
  cpu::sharded_ce_finish(losses, logits, targets, row_max, totals, vocab_start, grad_scale,
                         write_grad);
}

}  // namespace glm::kernels
