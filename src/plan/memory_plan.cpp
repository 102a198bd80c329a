#include "plan/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/layout.h"
#include "core/error.h"
#include "modeldef/param_layout.h"
#include "parallel/data_parallel.h"
#include "parallel/pipeline_schedule.h"

namespace glm::plan {

Recompute parse_recompute(const std::string& s, const std::string& what) {
  if (s == "none") return Recompute::none;
  if (s == "selective") return Recompute::selective;
  if (s == "full") return Recompute::full;
  throw InputError(fmt::format("{}: '{}' is not one of none, selective, full", what, s));
}

std::string to_string(Recompute r) {
  return r == Recompute::none ? "none" : r == Recompute::selective ? "selective" : "full";
}

Storage storage_policy(const std::string& name, const std::string& precision) {
  const bool fp32 = precision == "fp32";
  if (name == "as-built") {
    if (fp32) return {.name = name};
    return {.name = name, .param = 2, .master = 4, .activation = 2};
  }
  if (name == "16bit") {
    if (fp32) throw InputError("--storage 16bit needs train.precision fp16 or bf16, not fp32");
    return {.name = name,
            .param = 2,
            .grad = 4,
            .master = 4,
            .moments = 8,
            .activation = 2,
            .statistic = 4};
  }
  throw InputError(fmt::format("--storage '{}': expected as-built or 16bit", name));
}

namespace {

// One GLMLayer's LayerActivations (src/model/glm_layer.cpp) for R = B*T rows, local heads
// a_l and inner size f_l; `probs` is the attention's saved softmax (CPU [B, a, T, T], CUDA
// its [B, a, T] statistics), left out by selective recomputation.
double layer_activation_bytes(double B, double T, double h, double hl, double fl, double al,
                              bool cuda, bool keep_probs, const Storage& s) {
  const double R = B * T;
  const double stored = R * h /*a*/ + R * 3 * hl /*qkv*/ + R * hl /*ctx*/ + R * h /*h*/ +
                        R * h /*m*/ + R * 2 * fl /*u*/ + R * fl /*g*/;
  const double stats = 4 * R;  // two LayerNorms' mean and rstd
  // the CPU keeps the probabilities in the activations' dtype, CUDA fp32 row statistics
  const double probs =
      keep_probs ? (cuda ? B * al * T * s.statistic : B * al * T * T * s.activation) : 0;
  return stored * s.activation + stats * s.statistic + probs;
}

}  // namespace

std::vector<StageMemory> plan_memory(const modeldef::ModelConfig& c, const LayoutChoice& l,
                                     const Storage& s) {
  const config::ParallelConfig& p = l.parallel;
  const std::int64_t M = l.micro_batches();
  const double B = l.micro_batch, T = c.seq_length, R = B * T, h = c.hidden_size;
  std::vector<StageMemory> out;
  for (int stage = 0; stage < p.pp; ++stage) {
    const modeldef::ModelShard shard = config::shard_for(c, p, /*tp_rank=*/0, stage);
    const double hl = double(shard.local_heads(c)) * c.head_dim(), fl = shard.local_ffn(c);
    const double al = shard.local_heads(c), Vl = double(shard.local_vocab(c));
    StageMemory m;
    m.stage = stage;
    m.layers = shard.end_layer(c) - shard.first_layer;
    m.embedding = shard.has_embedding;
    m.head = shard.has_head;
    m.params = modeldef::ParamLayout(c, shard).total();
    m.opt_elements = m.params;
    std::int64_t allocated = m.params;  // the flat parameter and gradient buffers
    if (p.zero && p.dp > 1) {
      // optim/sharded_optimizer.h: buffers padded to the plan (the collectives in place) and
      // this rank's fp32 shard.
      const parallel::ShardPlan plan(m.params, p.dp);
      m.opt_elements = plan.shard;
      allocated = plan.padded;
      m.comm_buffers = double(plan.shard) * s.grad;
    }
    m.slots = parallel::pipeline_slots(stage, p.pp, static_cast<int>(M));
    m.parameters = double(allocated) * s.param;
    m.gradients = double(allocated) * s.grad;
    m.master = double(m.opt_elements) * s.master;
    m.save_snapshot = l.background_save ? double(m.opt_elements) * 12 : 0;
    m.moments = double(m.opt_elements) * s.moments;

    // One slot (GLMModel::Workspace): the stage input and every layer's output, the
    // layers' saved tensors (one set, refilled per layer, under full recomputation), the
    // final LN (last stage) or the received output gradient, two gradient ping-pong buffers.
    const bool full = l.recompute == Recompute::full;
    const double n_acts = full ? 1 : m.layers;
    double slot = (m.layers + 1) * R * h * s.activation;
    slot += n_acts * layer_activation_bytes(B, T, h, hl, fl, al, l.cuda,
                                            l.recompute != Recompute::selective, s);
    if (full) slot += R * h * s.activation;  // the recomputed layer's output
    slot += m.head ? R * h * s.activation + 2 * R * s.statistic : R * h * s.activation;
    slot += 2 * R * h * s.activation;
    // The micro-batch's tokens, positions, targets [B, T] and two [B] lengths (int32).
    slot += (3 * R + 2 * B) * 4;
    m.activations_per_slot = slot;
    m.activations = slot * m.slots;

    // The head (last stage, per slot): target rows' inputs and their gradient [n, h], logits
    // [n, V/t] in the activations' dtype (their gradient in place), fp32 losses [n];
    // vocab-parallel cross-entropy's row maxima of every TP rank [t, n], partial sums [n, 2].
    const double n = std::ceil(l.target_fraction * R);
    if (m.head) {
      const double head = 2 * n * h * s.activation + n * Vl * s.activation + n * s.statistic +
                          (p.tp > 1 ? (p.tp + 4) * n * 4 : 0);
      m.loss_softmax = head * m.slots;
    }
    // LayerScratch: shared by every slot, used inside one layer's backward.
    const double probs = l.cuda ? B * al * T * s.statistic : B * al * T * T * s.activation;
    m.layer_scratch = (5 * R * h + R * hl + R * fl + 2 * R * fl + 3 * R * hl) * s.activation +
                      probs;
    // 16-bit storage on a CPU without a native 16-bit GEMM: a linear's backward holds fp32
    // copies of dx, dy, x and W [out, in] for its call (the fp32 main gradient needs none);
    // one call at a time, so the largest counts.
    if (!l.cuda && !l.gemm16_native && s.activation == 2) {
      const auto widened = [](double rows, double in, double out_features) {
        return 4 * (2 * rows * in + rows * out_features + out_features * in);
      };
      double w = std::max({widened(R, h, 3 * hl), widened(R, hl, h), widened(R, h, 2 * fl),
                           widened(R, fl, h)});
      if (m.head) w = std::max(w, widened(n, h, Vl));
      m.gemm_widening = w;
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace glm::plan
