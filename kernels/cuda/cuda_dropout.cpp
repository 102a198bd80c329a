#include "kernels/cuda/cuda_dropout.h"

#include "core/philox.h"
#include "kernels/cuda/cuda_check.h"

namespace glm::kernels::cuda {

DropoutParams dropout_params(const DropoutSite& site, float p) {
  DropoutParams d;
  const philox::Key key = philox::make_key(site.seed, philox::kDropout);
  d.key0 = key.k0;
  d.key1 = key.k1;
  d.site = site.site;
  d.step = site.step;
  d.sample_offset = site.sample_offset;
  d.groups_total = site.groups_total;
  d.group_offset = site.group_offset;
  d.p = p;
  d.scale = 1.f / (1.f - p);
  return d;
}

void dropout_apply(Tensor& x, float p, const DropoutSite& site, std::int64_t groups) {
  constexpr const char* op = "cuda::dropout_apply";
  require_f32(op, "x", x);
  if (!(p >= 0.f && p < 1.f))
    throw InputError(fmt::format("dropout probability {} is outside [0, 1)", p));
  if (p == 0.f || x.numel() == 0) return;
  GLM_CHECK(x.dim() >= 2, "{}: x must be at least [B, C], got {}", op, shape_str(x.shape()));
  const std::int64_t B = x.size(0), C = x.size(-1), rows = x.numel() / C;
  GLM_CHECK(groups >= 1 && rows % (B * groups) == 0, "{}: {} groups do not divide the rows of {}",
            op, groups, shape_str(x.shape()));
  const std::int64_t I = rows / (B * groups);
  check_launch(launch_dropout(x.data<float>(), x.data<float>(), B, groups, I, C,
                              dropout_params(site, p), current_stream()),
               op);
}

}  // namespace glm::kernels::cuda
