#include "plan/step_time.h"

#include <algorithm>
#include <cmath>

#include "config/layout.h"
#include "modeldef/param_layout.h"
#include "parallel/data_parallel.h"
#include "parallel/pipeline_schedule.h"

namespace glm::plan {

StepTime plan_step_time(const modeldef::ModelConfig& c, const LayoutChoice& l, const Storage& s,
                        const Hardware& hw, const std::string& precision, double gemm_efficiency) {
  const config::ParallelConfig& p = l.parallel;
  const int t = p.tp, D = p.dp, P = p.pp, world = t * D * P;
  const std::int64_t M = l.micro_batches();
  const double T = c.seq_length, R = double(l.micro_batch) * T, h = c.hidden_size;
  StepTime st;
  st.peak_tflops = precision == "fp32" ? hw.peak_tflops_fp32.value : hw.peak_tflops_16bit.value;
  st.gemm_efficiency = gemm_efficiency > 0 ? gemm_efficiency : hw.gemm_efficiency.value;
  const double rate = st.peak_tflops * 1e12 * st.gemm_efficiency;  // FLOP/s per GPU
  const int gpn = static_cast<int>(hw.gpus_per_node.value);
  st.tp_nvlink = t <= gpn;
  st.dp_nvlink = t * D <= gpn;
  st.pp_nvlink = world <= gpn;
  auto link = [&](bool nvlink) {
    return (nvlink ? hw.nvlink_gbs.value : hw.network_gbs.value) * 1e9;
  };

  // docs/design.md section 10: forward FLOPs per token of one layer and of the head.
  const double layer_fwd = 2.0 * double(c.matrix_parameters()) / c.num_layers + 4.0 * T * h;
  const double head_fwd = 2.0 * h * c.vocab_size;
  const double attention_fwd = 4.0 * T * h;
  const double extra_per_layer = l.recompute == Recompute::full        ? layer_fwd
                                 : l.recompute == Recompute::selective ? attention_fwd
                                                                       : 0.0;
  const WireBytes wire{s.activation, s.grad, s.param};
  const double tokens = double(l.global_batch) * T;
  st.model_flops = 3.0 * c.forward_flops(tokens, l.target_fraction * tokens);
  st.hardware_flops = st.model_flops + extra_per_layer * c.num_layers * tokens;

  double slowest = 0;
  for (int stage = 0; stage < P; ++stage) {
    const modeldef::ModelShard shard = config::shard_for(c, p, 0, stage);
    const int layers = shard.end_layer(c) - shard.first_layer;
    StageTime x;
    const double fwd = R * (layers * layer_fwd + (shard.has_head ? head_fwd : 0.0)) / t;
    x.compute_s = (3.0 * fwd + R * layers * extra_per_layer / t) / rate;
    const auto head_rows = static_cast<std::int64_t>(std::ceil(l.target_fraction * R)) * M;
    x.bytes = step_comm_bytes(c, p, 0, stage, l.micro_batch, M, head_rows,
                              l.recompute == Recompute::full, wire);
    x.tp_s = double(x.bytes.tp) / M / link(st.tp_nvlink);
    x.pp_s = double(x.bytes.pp) / M / link(st.pp_nvlink);
    x.dp_s = double(x.bytes.dp) / link(st.dp_nvlink);
    // Without ZeRO on a GPU the layer ranges' all-reduces run during the last backward: all
    // but the first-finished layer's backward can hide them.
    const bool overlaps = l.cuda && !p.zero && layers > 0;
    const double backward_s = x.compute_s * 2.0 / 3.0;
    const double hidden =
        overlaps ? std::min(x.dp_s * (layers - 1.0) / layers, backward_s * (layers - 1.0) / layers)
                 : 0.0;
    x.dp_exposed_s = x.dp_s - hidden;
    x.embedding_s = double(x.bytes.embedding) / link(false);
    // AdamW reads the gradient, reads and writes the master copy (or the weights) and both
    // moments, and writes the weights: grad + 2 (master or param) + 2 moments + param bytes.
    std::int64_t opt = modeldef::ParamLayout(c, shard).total();
    if (p.zero && D > 1) opt = parallel::ShardPlan(opt, D).shard;
    const double per_elem =
        s.grad + 2.0 * (s.master ? s.master : s.param) + 2.0 * s.moments + (s.master ? s.param : 0);
    x.optimizer_s = double(opt) * per_elem / (hw.hbm_gbs.value * 1e9);
    slowest = std::max(slowest, x.micro_batch_s());
    st.stages.push_back(x);
  }
  st.bubble = parallel::pipeline_bubble(P, static_cast<int>(M));
  st.pipeline_s = double(M + P - 1) * slowest;
  double after = 0;
  for (const StageTime& x : st.stages)
    after = std::max(after, x.dp_exposed_s + x.embedding_s + x.optimizer_s);
  st.step_s = st.pipeline_s + after;
  st.tokens_per_s = tokens / st.step_s;
  st.model_tflops_per_gpu = st.model_flops / st.step_s / world / 1e12;
  st.hardware_tflops_per_gpu = st.hardware_flops / st.step_s / world / 1e12;
  st.mfu = st.model_tflops_per_gpu / st.peak_tflops;
  st.hfu = st.hardware_tflops_per_gpu / st.peak_tflops;
  return st;
}

}  // namespace glm::plan
