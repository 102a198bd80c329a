// Memory per GPU of one pipeline stage, by category, for a layout of a run config.
//
// Counts follow what the code allocates: parameter counts from modeldef::ParamLayout (the table
// the model allocates from), ZeRO shards from parallel::ShardPlan, activation slots from
// parallel::pipeline_slots (1F1B: stage s holds min(M, P - s) micro-batches), and per slot
// the tensors of GLMModel's workspace and GLMLayer's LayerActivations (src/model/*), with
// the element sizes of a Storage policy:
//   as-built  what this code stores: the precision's dtype for weights and activations
//             (fp16 / bf16: 16-bit, with a separate fp32 master), fp32 main gradients and
//             Adam moments; under ZeRO-1 the buffers padded to the shard plan and this
//             rank's fp32 shard (optim/sharded_optimizer.h)
//   16bit     docs/design.md section 3's policy as GLM-130B / Megatron store it: the same
//             as as-built in fp16 / bf16 (refused for fp32)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "modeldef/model_config.h"

namespace glm::plan {

enum class Recompute { none, selective, full };
Recompute parse_recompute(const std::string& s, const std::string& what);
std::string to_string(Recompute r);

struct Storage {
  std::string name;
  int param = 4;       // model weights
  int grad = 4;        // accumulated gradients
  int master = 0;      // fp32 master copy (0: the optimizer updates the weights in place)
  int moments = 8;     // Adam m and v
  int activation = 4;  // stored activations and activation gradients
  int statistic = 4;   // LayerNorm mean/rstd, softmax statistics, logits and losses (fp32)
};
// "as-built" or "16bit" for a run precision ("fp32" | "fp16" | "bf16").
Storage storage_policy(const std::string& name, const std::string& precision);

// What a plan is asked about.
struct LayoutChoice {
  config::ParallelConfig parallel;  // dp, tp, pp, zero, pipeline_first_last_layers
  Recompute recompute = Recompute::none;
  int micro_batch = 1;
  std::int64_t global_batch = 1;
  bool cuda = true;              // CUDA's attention keeps [B, a, T] softmax statistics, the CPU
                                 // path the whole [B, a, T, T] probabilities
  double target_fraction = 1.0;  // share of positions that are targets (head rows)
  // A CPU run in fp16 / bf16 whose CPU multiplies that type natively (kernels/gemm.h
  // gemm16_path; glm-plan assumes it does). Otherwise each linear layer works on fp32 copies
  // of its 16-bit operands for the call (kernels/widen.h), counted in gemm_widening.
  bool gemm16_native = true;
  bool background_save = false;  // train.save_mode "async": a host snapshot per rank
  std::int64_t micro_batches() const {  // per DP rank per step
    return global_batch / (std::int64_t{micro_batch} * parallel.dp);
  }
};

struct StageMemory {
  int stage = 0;
  int layers = 0;
  bool embedding = false, head = false;
  std::int64_t params = 0;        // this rank's parameter elements (ParamLayout total)
  std::int64_t opt_elements = 0;  // elements of the optimizer state this rank updates
  int slots = 0;                  // micro-batches in flight (activation slots)
  // bytes
  double parameters = 0, gradients = 0, master = 0, moments = 0;
  double activations_per_slot = 0;  // one micro-batch: layer inputs, stored layer tensors
  double activations = 0;           // x slots
  double loss_softmax = 0;          // head rows x V/t logits, losses, head inputs (x slots)
  double layer_scratch = 0;         // one layer's backward temporaries (shared by slots)
  double comm_buffers = 0;          // ZeRO-1's shard and gather-chunk buffers
  double gemm_widening = 0;         // without a native 16-bit GEMM: the largest linear's
                                    // fp32 operand copies (its backward: dx, dy, x, W)
  // Host memory, not in total(): a background save's snapshot of this rank's master weights
  // and moments (train/background_save.h), 12 bytes per optimizer element.
  double save_snapshot = 0;
  double total() const {
    return parameters + gradients + master + moments + activations + loss_softmax + layer_scratch +
           comm_buffers + gemm_widening;
  }
};

// One entry per stage (TP ranks of a stage hold equal amounts).
std::vector<StageMemory> plan_memory(const modeldef::ModelConfig& c, const LayoutChoice& l,
                                     const Storage& s);

}  // namespace glm::plan
