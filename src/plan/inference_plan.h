// Memory per GPU for serving a model file with tensor parallelism over `gpus` ranks (one
// shard per GPU, as `mpirun -n N glm-generate` runs it; infer/engine.h), counted the way the
// engine allocates:
//   weights      each linear's shard as exported: `bits` per value plus, below 16 bits, one
//                fp16 scale per row (per G inputs with a group size), its bias in fp32; the
//                fp16 embedding (the tied head) cut by vocabulary over the GPUs; replicated
//                on every GPU: the LayerNorms and the row-parallel biases in fp32
//   KV cache     K and V of the GPU's own heads for batch x context tokens, fp32 as the
//                engine keeps them by default, fp16 with kv_cache "fp16" (--kv-cache fp16,
//                kv_cache.h)
// (storage "16bit" counts an fp16 KV cache whatever kv_cache says, as GLM-130B's own
// inference keeps it)
//   activations  the engine's per-token buffers for a prefill of the whole context (the
//                residual stream, the layer's saved tensors, the fp16 input copies of the
//                linears) and the logits row; attention scores stay in on-chip memory
//                (kernels/kv_attention.h)
// The verdict compares the sum with the GPU's memory less what the hardware file reserves,
// and searches the largest context at the batch and the largest batch at the context.
#pragma once

#include <cstdint>
#include <string>

#include "modeldef/model_config.h"
#include "plan/hardware.h"

namespace glm::plan {

struct InferenceRequest {
  int bits = 4;                // 16, 8 or 4
  std::int64_t group_size = 0; // 0: one scale per row
  int gpus = 1;                // the tensor-parallel size
  std::int64_t batch = 1;      // sequences served at once
  std::int64_t context = 0;    // tokens per sequence (0: the model's seq_length)
  // as-built: what this engine keeps (the KV cache as kv_cache says); 16bit: as GLM-130B's
  // own inference keeps it (an fp16 KV cache)
  std::string storage = "as-built";
  std::string kv_cache = "fp32";  // as-built: what glm-generate --kv-cache stores (fp32, fp16)
};

struct InferencePlan {
  InferenceRequest request;
  double linear_bytes = 0, scale_bytes = 0, replicated_bytes = 0;  // per GPU
  double kv_bytes = 0, activation_bytes = 0;                       // per GPU
  double usable_bytes = 0;  // memory less the reserve
  double total() const {
    return linear_bytes + scale_bytes + replicated_bytes + kv_bytes + activation_bytes;
  }
  bool fits() const { return total() <= usable_bytes; }
  std::int64_t max_context = 0;  // at the request's batch (0: not even one token)
  std::int64_t max_batch = 0;    // at the request's context
};

// InputError naming the problem when gpus does not divide the heads or the GeGLU size, the
// group size does not divide a shard's inputs, or bits is not 16, 8 or 4.
InferencePlan plan_inference(const modeldef::ModelConfig& c, const InferenceRequest& r,
                             const Hardware& hw);

// The engine's activation buffers on one of `gpus` tensor-parallel ranks for a prefill of
// `context` tokens (the "activations" line of the plan; the rank log of glm-generate and
// glm-eval states it too).
double inference_activation_bytes(const modeldef::ModelConfig& c, int gpus, std::int64_t context);

// A human-readable report of the plan (what glm-plan --inference prints).
std::string format_inference_plan(const InferencePlan& p, const Hardware& hw);

}  // namespace glm::plan
