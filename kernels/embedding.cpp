// The embedding ops' entries: checked once here, then run by kernels/cpu/embedding.cpp or
// kernels/cuda/embedding_kernels.cu. The token ids are data, checked by each backend (the
// CPU before the lookup, CUDA on the device, reported after the kernel) with one message.
// Both read and write a 16-bit x, dx and table natively; a 16-bit gradient table goes
// through Wide (the main gradients are fp32).
#include "kernels/embedding.h"

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_flag.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/pointwise_launch.h"
#endif

namespace glm::kernels {

void embedding_forward(Tensor& x, const Tensor& tokens, const Tensor& table,
                       std::int64_t vocab_start, std::int64_t vocab_total) {
  constexpr const char* op = "embedding_forward";
  [[maybe_unused]] const Device dev =
      op_device(op, {{"x", x}, {"tokens", tokens}, {"table", table}});
  require_float_storage(op, "x", x);
  require_i32(op, "tokens", tokens);
  require_float_storage(op, "table", table);
  GLM_CHECK(table.dim() == 2, "{}: table must be [V, h], got {}", op, shape_str(table.shape()));
  const std::int64_t V = table.size(0), h = table.size(1), R = tokens.numel();
  GLM_CHECK(vocab_start >= 0 && vocab_start + V <= vocab_total,
            "{}: table rows [{}, {}) outside the vocabulary of {}", op, vocab_start,
            vocab_start + V, vocab_total);
  GLM_CHECK(x.dim() >= 1 && x.size(-1) == h && rows_of(x) == R,
            "{}: x {} does not match tokens {} and table {}", op, shape_str(x.shape()),
            shape_str(tokens.shape()), shape_str(table.shape()));
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    GLM_CHECK(R < INT_MAX, "{}: {} rows exceed the int32 row index", op, R);
    cuda::DeviceFlag bad(INT_MAX);
    cuda::check_launch(cuda::launch_embedding_forward(
                           cuda::float_out(x), tokens.data<std::int32_t>(), cuda::float_in(table),
                           R, V, h, vocab_start, vocab_total, bad.get(), cuda::current_stream()),
                       op);
    const std::int32_t r = bad.read();
    if (r != INT_MAX)
      throw InputError(
          fmt::format("embedding: token {} at row {} is outside the vocabulary [0, {})",
                      cuda::read_i32(tokens, r), r, vocab_total));
    return;
  }
#endif
  cpu::embedding_forward(x, tokens, table, vocab_start, vocab_total);
}

void embedding_backward(Tensor& dtable, const Tensor& dx, const Tensor& tokens, float alpha,
                        std::int64_t vocab_start) {
  constexpr const char* op = "embedding_backward";
  [[maybe_unused]] const Device dev =
      op_device(op, {{"dtable", dtable}, {"dx", dx}, {"tokens", tokens}});
  if (is_16bit(dtable)) {
    Wide DT(dtable, Wide::inout);
    embedding_backward(*DT, dx, tokens, alpha, vocab_start);
    return DT.store();
  }
  require_f32(op, "dtable", dtable);
  require_float_storage(op, "dx", dx);
  require_i32(op, "tokens", tokens);
  GLM_CHECK(dtable.dim() == 2, "{}: dtable must be [V, h], got {}", op, shape_str(dtable.shape()));
  const std::int64_t h = dtable.size(1), R = tokens.numel();
  GLM_CHECK(dx.dim() >= 1 && dx.size(-1) == h && rows_of(dx) == R,
            "{}: dx {} does not match tokens {} and dtable {}", op, shape_str(dx.shape()),
            shape_str(tokens.shape()), shape_str(dtable.shape()));
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    GLM_CHECK(R < INT_MAX, "{}: {} rows exceed the int32 row index", op, R);
    cuda::DeviceFlag bad(INT_MAX);
    cuda::check_launch(
        cuda::launch_embedding_backward(dtable.data<float>(), cuda::float_in(dx),
                                        tokens.data<std::int32_t>(), alpha, R, dtable.size(0), h,
                                        vocab_start, bad.get(), cuda::current_stream()),
        op);
    const std::int32_t r = bad.read();
    if (r != INT_MAX)
      throw InputError(
          fmt::format("embedding: token {} at row {} is negative", cuda::read_i32(tokens, r), r));
    return;
  }
#endif
  cpu::embedding_backward(dtable, dx, tokens, alpha, vocab_start);
}

}  // namespace glm::kernels
