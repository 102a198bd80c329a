#include "modeldef/precision.h"

#include <fmt/format.h>

#include "core/error.h"

namespace glm::modeldef {

PrecisionPolicy precision_policy(Precision p) {
  const DType s = p == Precision::fp16   ? DType::f16
                  : p == Precision::bf16 ? DType::bf16
                                         : DType::f32;
  PrecisionPolicy q;
  q.params = q.activations = q.activation_grads = q.pipeline_messages = s;
  q.param_grads = q.master = q.optimizer_state = q.tp_reduce = q.dp_reduce = DType::f32;
  q.loss_scaling = p == Precision::fp16;
  return q;
}

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::fp16:
      return "fp16";
    case Precision::bf16:
      return "bf16";
  }
  return "?";
}

Precision parse_precision(std::string_view s, std::string_view what) {
  for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16})
    if (s == precision_name(p)) return p;
  throw InputError(fmt::format("{}: '{}' is not one of fp32, fp16, bf16", what, s));
}

}  // namespace glm::modeldef
