// The dropout op's entry: checked once here, then run by kernels/cpu/dropout.cpp or
// kernels/cuda/dropout_kernels.cu (both read and write 16-bit rows natively); and the keep
// decision both are tested against.
#include "kernels/dropout.h"

#include "core/philox.h"
#include "kernels/check.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/float_kind.h"
#include "kernels/cuda/cuda_dropout.h"
#endif

namespace glm::kernels {

bool dropout_keep(const DropoutSite& site, float p, std::int64_t global_row, std::int64_t col) {
  const auto r = static_cast<std::uint64_t>(global_row);
  const philox::Block b =
      philox::philox4x32_10({static_cast<std::uint32_t>(col / 4), static_cast<std::uint32_t>(r),
                             static_cast<std::uint32_t>(r >> 32) ^ site.site, site.step},
                            philox::make_key(site.seed, philox::kDropout));
  return philox::to_uniform(b.v[col % 4]) >= p;
}

void dropout_apply(Tensor& x, float p, const DropoutSite& site, std::int64_t groups) {
  constexpr const char* op = "dropout_apply";
  [[maybe_unused]] const Device dev = op_device(op, {{"x", x}});
  require_float_storage(op, "x", x);
  if (!(p >= 0.f && p < 1.f))
    throw InputError(fmt::format("dropout probability {} is outside [0, 1)", p));
  if (p == 0.f || x.numel() == 0) return;
  GLM_CHECK(x.dim() >= 2, "{}: x must be at least [B, C], got {}", op, shape_str(x.shape()));
  const std::int64_t B = x.size(0), C = x.size(-1), rows = x.numel() / C;
  GLM_CHECK(groups >= 1 && rows % (B * groups) == 0, "{}: {} groups do not divide the rows of {}",
            op, groups, shape_str(x.shape()));
  const std::int64_t I = rows / (B * groups);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_dropout(cuda::float_out(x), cuda::float_in(x), B, groups, I, C,
                             cuda::dropout_params(site, p), cuda::current_stream()),
        op);
#endif
  cpu::dropout_apply(x, p, site, B, groups, I);
}

}  // namespace glm::kernels
