#include "parallel/tensor_parallel.h"

#include <algorithm>
#include <span>

#include "core/error.h"
#include "kernels/cross_entropy.h"
#include "kernels/widen.h"
#include "parallel/tensor_span.h"

namespace glm::parallel {
namespace {

bool active(const Communicator* tp) { return tp && tp->size() > 1; }

// The sum over the group in fp32 (the precision policy's tp_reduce), whatever x's storage.
void all_reduce_f32(Communicator& tp, Tensor& x) {
  kernels::Wide X(x, kernels::Wide::inout);
  tp.all_reduce_sum(floats(tp, *X));
  X.store();
}

}  // namespace

void reduce_from_tp(Communicator* tp, Tensor& x) {
  if (active(tp)) all_reduce_f32(*tp, x);
}

void copy_to_tp_backward(Communicator* tp, Tensor& dx) {
  if (active(tp)) all_reduce_f32(*tp, dx);
}

void vocab_parallel_cross_entropy(Communicator* tp, Tensor& losses, Tensor& logits_shard,
                                  const Tensor& targets, std::int64_t vocab_start,
                                  float grad_scale, bool write_grad) {
  if (!active(tp)) {
    GLM_CHECK(vocab_start == 0, "vocab_parallel_cross_entropy: a shard without a TP group");
    kernels::softmax_cross_entropy(losses, logits_shard, targets, grad_scale, write_grad);
    return;
  }
  const std::int64_t R = logits_shard.size(0);
  const int t = tp->size();
  const Device dev = logits_shard.device();  // temporaries live with the logits
  // M[r] = max over every rank's row maxima (all-gathered: the interface sums, not maxes);
  // the [t, R] maxima are combined on the host (R floats per rank).
  Tensor local_max = Tensor::empty({R}, DType::f32, dev);
  kernels::sharded_ce_row_max(local_max, logits_shard);
  Tensor all_max = Tensor::empty({t, R}, DType::f32, dev);
  tp->all_gather(floats(*tp, local_max), floats(*tp, all_max));
  const Tensor all_host = dev.is_cpu() ? all_max : all_max.to(Device::cpu());
  Tensor row_max = Tensor::empty({R}, DType::f32);
  const float* a = all_host.data<float>();
  float* m = row_max.data<float>();
  for (std::int64_t r = 0; r < R; ++r) {
    m[r] = a[r];
    for (int k = 1; k < t; ++k) m[r] = std::max(m[r], a[k * R + r]);
  }
  if (!dev.is_cpu()) row_max = row_max.to(dev);
  // sum of exp(logit - M) and the target's logit, each summed over the ranks
  Tensor partials = Tensor::empty({R, 2}, DType::f32, dev);
  kernels::sharded_ce_partials(partials, logits_shard, targets, row_max, vocab_start);
  tp->all_reduce_sum(floats(*tp, partials));
  kernels::sharded_ce_finish(losses, logits_shard, targets, row_max, partials, vocab_start,
                             grad_scale, write_grad);
}

}  // namespace glm::parallel
