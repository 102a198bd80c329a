// The precision policy (docs/design.md section 3; docs/design.md "Precision"): for each training
// precision, the dtype in which every class of tensor is stored. The model, the optimizer,
// the trainer and the communication layers ask this table; nothing else decides.
//
//   class                         fp32   fp16   bf16
//   parameters (what ops read)    f32    f16    bf16
//   activations (saved, passed)   f32    f16    bf16
//   activation gradients          f32    f16    bf16
//   parameter gradients           f32    f32    f32    main grads: accumulate over micro-batches
//   master weights, Adam moments  f32    f32    f32    (fp32: the parameters are the master)
//   pipeline messages             f32    f16    bf16   the activation / its gradient, as stored
//   tensor-parallel all-reduces   f32    f32    f32    summed in fp32 (MPI has no 16-bit sum)
//   DP / ZeRO reductions          f32    f32    f32    main grads
//   loss scaling                  off    dynamic off
// LayerNorm statistics, softmax, the loss and every accumulation are fp32 inside the kernels
// whatever the storage. The parameters row is the model's flat buffer (modeldef::FlatParams):
// in fp16 / bf16 a 16-bit buffer that AdamW writes, rounded from the fp32 master, in its own
// pass (optim/sharded_optimizer.h; docs/design.md section 3).
#pragma once

#include <string_view>

#include "core/dtype.h"

namespace glm::modeldef {

enum class Precision { fp32, fp16, bf16 };

struct PrecisionPolicy {
  DType params, activations, activation_grads;
  DType param_grads, master, optimizer_state;
  DType pipeline_messages, tp_reduce, dp_reduce;
  bool loss_scaling = false;
  // Whether the master weights are a separate fp32 copy (16-bit parameters) or the
  // parameters themselves.
  bool separate_master() const { return params != master; }
};

PrecisionPolicy precision_policy(Precision p);

std::string_view precision_name(Precision p);  // "fp32", "fp16", "bf16"
// InputError naming `what` unless s is one of the names above.
Precision parse_precision(std::string_view s, std::string_view what);

}  // namespace glm::modeldef
