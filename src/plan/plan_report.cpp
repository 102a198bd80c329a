// The text and JSON forms of a plan (plan/plan.h).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "modeldef/param_layout.h"
#include "plan/plan.h"

namespace glm::plan {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string layout_name(const Plan& p) {
  const auto& q = p.layout.parallel;
  return fmt::format("dp{} tp{} pp{}{} recompute {} mb {}{}", q.dp, q.tp, q.pp,
                     q.zero ? " zero1" : "", to_string(p.layout.recompute), p.layout.micro_batch,
                     q.pipeline_first_last_layers >= 0
                         ? fmt::format(" first/last {}", q.pipeline_first_last_layers)
                         : "");
}

}  // namespace

nlohmann::json plan_json(const Plan& p) {
  nlohmann::json stages = nlohmann::json::array();
  for (std::size_t i = 0; i < p.memory.size(); ++i) {
    const StageMemory& m = p.memory[i];
    const StageTime& t = p.time.stages[i];
    stages.push_back({{"stage", m.stage},
                      {"layers", m.layers},
                      {"embedding", m.embedding},
                      {"head", m.head},
                      {"params", m.params},
                      {"slots", m.slots},
                      {"bytes",
                       {{"parameters", m.parameters},
                        {"gradients", m.gradients},
                        {"master", m.master},
                        {"moments", m.moments},
                        {"activations", m.activations},
                        {"activations_per_slot", m.activations_per_slot},
                        {"loss_softmax", m.loss_softmax},
                        {"layer_scratch", m.layer_scratch},
                        {"comm_buffers", m.comm_buffers},
                        {"save_snapshot_host", m.save_snapshot},
                        {"total", m.total()}}},
                      {"fits", m.total() <= p.limit_bytes},
                      {"micro_batch_s", {{"compute", t.compute_s}, {"tp", t.tp_s}, {"pp", t.pp_s}}},
                      {"step_s",
                       {{"dp", t.dp_s},
                        {"dp_exposed", t.dp_exposed_s},
                        {"embedding", t.embedding_s},
                        {"optimizer", t.optimizer_s}}},
                      {"comm_bytes",
                       {{"tp", t.bytes.tp},
                        {"dp", t.bytes.dp},
                        {"pp", t.bytes.pp},
                        {"embedding", t.bytes.embedding},
                        {"world", t.bytes.world}}}});
  }
  const auto& q = p.layout.parallel;
  return {{"layout",
           {{"dp", q.dp},
            {"tp", q.tp},
            {"pp", q.pp},
            {"zero", q.zero},
            {"pipeline_first_last_layers", q.pipeline_first_last_layers},
            {"recompute", to_string(p.layout.recompute)},
            {"micro_batch", p.layout.micro_batch},
            {"micro_batches", p.layout.micro_batches()}}},
          {"storage", p.storage.name},
          {"limit_bytes", p.limit_bytes},
          {"fits", p.fits()},
          {"stages", stages},
          {"bubble", p.time.bubble},
          {"pipeline_s", p.time.pipeline_s},
          {"step_s", p.time.step_s},
          {"tokens_per_s", p.time.tokens_per_s},
          {"model_tflops_per_gpu", p.time.model_tflops_per_gpu},
          {"hardware_tflops_per_gpu", p.time.hardware_tflops_per_gpu},
          {"mfu", p.time.mfu},
          {"hfu", p.time.hfu},
          {"peak_tflops", p.time.peak_tflops},
          {"gemm_efficiency", p.time.gemm_efficiency},
          {"notes", p.notes}};
}

std::string format_plan(const Plan& p, const PlanRequest& req) {
  const auto& c = req.config.model;
  const Hardware& hw = req.hardware;
  std::string s;
  s += fmt::format("config    {}: N {} h {} a {} f {} V {} T {}, {} parameters (ParamLayout)\n",
                   req.config.source, c.num_layers, c.hidden_size, c.num_heads, c.ffn_hidden_size,
                   c.vocab_size, c.seq_length, modeldef::ParamLayout(c, {}).total());
  s += fmt::format("run       precision {}, global batch {}, storage {}\n",
                   req.config.train.precision, p.layout.global_batch, p.storage.name);
  s += fmt::format("hardware  {} ({})\n", hw.name, hw.file);
  for (const auto& [name, f] : hw.figures())
    s += fmt::format("  {:<18} {:>10g}  {:<9} {}\n", name, f->value, f->source, f->note);
  if (req.gemm_efficiency > 0)
    s += fmt::format("  gemm_efficiency overridden: {:g} (--gemm-efficiency)\n",
                     req.gemm_efficiency);
  s += fmt::format("layout    {} on {} GPUs, {} micro-batches per step\n", layout_name(p), req.gpus,
                   p.layout.micro_batches());
  s += fmt::format("\nmemory per GPU (GiB; limit {:.2f}){}\n", p.limit_bytes / kGiB,
                   req.gpu_mem_gib > 0 ? " --gpu-mem-gb" : " = hbm_gib - reserved_gib");
  s += "stage layers emb head slots   params   grads  master moments  activ loss/sm scratch "
       "commbuf   total  fits\n";
  for (const StageMemory& m : p.memory)
    s += fmt::format(
        "{:>5} {:>6} {:>3} {:>4} {:>5} {:>8.2f} {:>7.2f} {:>7.2f} {:>7.2f} {:>6.2f} {:>7.2f} "
        "{:>7.2f} {:>7.2f} {:>7.2f}  {}\n",
        m.stage, m.layers, m.embedding ? "y" : "-", m.head ? "y" : "-", m.slots,
        m.parameters / kGiB, m.gradients / kGiB, m.master / kGiB, m.moments / kGiB,
        m.activations / kGiB, m.loss_softmax / kGiB, m.layer_scratch / kGiB, m.comm_buffers / kGiB,
        m.total() / kGiB, m.total() <= p.limit_bytes ? "yes" : "NO");
  const StepTime& t = p.time;
  s += fmt::format("\nstep time (per micro-batch on each stage: compute + TP + PP)\n");
  for (std::size_t i = 0; i < t.stages.size(); ++i) {
    const StageTime& x = t.stages[i];
    s += fmt::format(
        "  stage {:>2}: {:.4f} s = {:.4f} + {:.4f} + {:.4f}; after backward: DP {:.3f} s "
        "({:.3f} exposed), embedding {:.3f} s, AdamW {:.3f} s\n",
        i, x.micro_batch_s(), x.compute_s, x.tp_s, x.pp_s, x.dp_s, x.dp_exposed_s, x.embedding_s,
        x.optimizer_s);
  }
  s += fmt::format("  links: TP {}, DP {}, PP {}\n", t.tp_nvlink ? "NVLink" : "network",
                   t.dp_nvlink ? "NVLink" : "network", t.pp_nvlink ? "NVLink" : "network");
  s += fmt::format("  1F1B bubble {:.1f}%, pipeline {:.2f} s, step {:.2f} s\n", 100 * t.bubble,
                   t.pipeline_s, t.step_s);
  s += fmt::format(
      "throughput {:.0f} tokens/s; per GPU {:.1f} model TFLOP/s, {:.1f} hardware TFLOP/s "
      "(peak {:g} x efficiency {:g}); MFU {:.1f}%, HFU {:.1f}%\n",
      t.tokens_per_s, t.model_tflops_per_gpu, t.hardware_tflops_per_gpu, t.peak_tflops,
      t.gemm_efficiency, 100 * t.mfu, 100 * t.hfu);
  s += fmt::format("fits      {}\n", p.fits() ? "yes" : "NO");
  for (const std::string& n : p.notes) s += "note      " + n + "\n";
  return s;
}

std::string format_search(const std::vector<Plan>& ranked, const PlanRequest& req, int top) {
  std::string s = fmt::format("{} layouts of {} GPUs on {} ({} storage), fitting first:\n",
                              ranked.size(), req.gpus, req.hardware.name, req.storage);
  s += "rank  layout                                            max GiB  fits  step s  "
       "tokens/s  TFLOP/s  MFU    HFU    bubble\n";
  int shown = 0;
  for (const Plan& p : ranked) {
    if (shown++ == top) break;
    s += fmt::format(
        "{:>4}  {:<48} {:>8.2f}  {:<4} {:>7.2f} {:>9.0f} {:>8.1f}  {:>5.1f}% {:>5.1f}% "
        "{:>5.1f}%\n",
        shown, layout_name(p), p.max_stage_bytes() / kGiB, p.fits() ? "yes" : "NO", p.time.step_s,
        p.time.tokens_per_s, p.time.model_tflops_per_gpu, 100 * p.time.mfu, 100 * p.time.hfu,
        100 * p.time.bubble);
  }
  return s;
}

}  // namespace glm::plan
