#include "kernels/cuda/cuda_dropout.h"

#include "core/philox.h"

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

}  // namespace glm::kernels::cuda
