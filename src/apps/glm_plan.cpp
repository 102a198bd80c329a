// glm-plan: will a run fit, and how fast will it go? Memory per GPU by category for every
// pipeline stage, step time, tokens/s, TFLOP/s per GPU, MFU and HFU of a layout of a run
// config on a described machine; --search ranks every layout that fits (plan/plan.h).
//
//   glm-plan --config configs/glm-130b.json --gpus 768 --hardware a100-40g
//   glm-plan --config configs/glm-130b.json --gpus 768 --hardware a100-80g --search
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "apps/app_main.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "plan/inference_plan.h"
#include "plan/plan.h"

namespace po = boost::program_options;

namespace {

int run(int argc, char** argv) {
  std::string config_path, hardware, recompute, storage, kv_cache;
  int gpus = 0, dp = -1, tp = -1, pp = -1, zero = -1, micro_batch = -1, top = 15;
  double gpu_mem_gb = 0, efficiency = 0, target_fraction = 1.0;
  bool search = false, json = false, inference = false;
  int bits = 4;
  std::int64_t group_size = 0, batch = 1, context = 0;
  std::vector<std::string> sets;
  po::options_description desc(
      "glm-plan: memory per GPU and step time of a training layout (docs/planning.md).\n\n"
      "Usage: glm-plan --config FILE --gpus N --hardware NAME|FILE [options]\n"
      "       glm-plan --inference --config FILE --gpus N --hardware NAME|FILE --bits 4|8|16\n\n"
      "Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("config", po::value(&config_path), "run config JSON (configs/glm-130b.json)")
    ("gpus", po::value(&gpus), "number of GPUs")
    ("hardware", po::value(&hardware), "configs/hardware/NAME.json (a100-40g, a100-80g, "
     "h100-80g) or a JSON file")
    ("dp", po::value(&dp), "data-parallel size (default: gpus / (tp x pp))")
    ("tp", po::value(&tp), "tensor-parallel size (default: the config's parallel.tp)")
    ("pp", po::value(&pp), "pipeline-parallel size (default: the config's parallel.pp)")
    ("zero", po::value(&zero), "1: ZeRO-1 (default: the config's parallel.zero)")
    ("recompute", po::value(&recompute), "none | selective | full (default: train.recompute)")
    ("micro-batch", po::value(&micro_batch), "samples per micro-batch (train.micro_batch_size)")
    ("gpu-mem-gb", po::value(&gpu_mem_gb), "usable memory per GPU in GiB (replaces the "
     "hardware's hbm_gib - reserved_gib)")
    ("gemm-efficiency", po::value(&efficiency), "achieved / peak on the step's FLOPs "
     "(replaces the hardware file's gemm_efficiency)")
    ("storage", po::value(&storage)->default_value("as-built"), "as-built (what this code "
     "allocates) | 16bit (GLM-130B's storage: for training, what as-built allocates in fp16 / bf16; "
     "with --inference, the embedding cut by vocabulary and an fp16 KV cache)")
    ("target-fraction", po::value(&target_fraction), "share of positions that are loss "
     "targets, sizing the head's logits (default 1: every position)")
    ("search", po::bool_switch(&search), "rank every layout of --gpus (fitting first)")
    ("top", po::value(&top), "layouts shown by --search (default 15)")
    ("json", po::bool_switch(&json), "print the plan as JSON")
    ("set", po::value(&sets)->composing(), "config override section.key=value (repeatable)")
    ("inference", po::bool_switch(&inference), "plan serving instead of training: --gpus GPUs "
     "as one tensor-parallel group (mpirun -n N glm-generate), memory per GPU and a verdict")
    ("bits", po::value(&bits)->default_value(4), "--inference: 16 (fp16), 8 or 4 (INT8/INT4)")
    ("group-size", po::value(&group_size)->default_value(0), "--inference: inputs per INT8/INT4 "
     "scale (0: one per row)")
    ("batch", po::value(&batch)->default_value(1), "--inference: sequences at once")
    ("kv-cache", po::value(&kv_cache)->default_value("fp32"), "--inference: fp32 or fp16, "
     "as glm-generate --kv-cache stores the cache")
    ("context", po::value(&context)->default_value(0), "--inference: tokens per sequence "
     "(0: model.seq_length)");
  // clang-format on
  po::variables_map vm;
  if (auto stop = glm::apps::parse_options(po::command_line_parser(argc, argv).options(desc), argc,
                                           desc, vm, {.bare_is_usage = false}))
    return *stop;
  if (config_path.empty()) throw glm::InputError("--config is required (see --help)");
  if (hardware.empty()) throw glm::InputError("--hardware is required (see --help)");
  if (!vm.count("gpus")) throw glm::InputError("--gpus is required (see --help)");
  glm::apps::require_range(vm, "gpus", 1, 1 << 24);
  glm::apps::require_range(vm, "top", 1, 10000);
  if (!(target_fraction > 0 && target_fraction <= 1))
    throw glm::InputError(fmt::format("--target-fraction {}: must be in (0, 1]", target_fraction));
  if (gpu_mem_gb < 0 || efficiency < 0 || efficiency > 1)
    throw glm::InputError("--gpu-mem-gb must be > 0 and --gemm-efficiency in (0, 1]");
  for (auto [flag, v] : {std::pair{"dp", dp}, {"tp", tp}, {"pp", pp}, {"micro-batch", micro_batch}})
    if (vm.count(flag) && v < 1)
      throw glm::InputError(fmt::format("--{} {}: must be >= 1", flag, v));
  if (vm.count("zero") && zero != 0 && zero != 1)
    throw glm::InputError(fmt::format("--zero {}: expected 0 or 1", zero));
  if (vm.count("tp")) sets.push_back(fmt::format("parallel.tp={}", tp));
  if (vm.count("pp")) sets.push_back(fmt::format("parallel.pp={}", pp));
  if (vm.count("zero")) sets.push_back(fmt::format("parallel.zero={}", zero ? "true" : "false"));
  if (vm.count("micro-batch"))
    sets.push_back(fmt::format("train.micro_batch_size={}", micro_batch));
  // A layout changed by flags keeps the config's dp only when it still multiplies to --gpus.
  sets.push_back(fmt::format("parallel.dp={}", vm.count("dp") ? dp : 0));

  if (inference) {
    glm::apps::require_range<std::int64_t>(vm, "group-size", 0, std::int64_t{1} << 30);
    glm::apps::require_range<std::int64_t>(vm, "batch", 1, std::int64_t{1} << 30);
    glm::apps::require_range<std::int64_t>(vm, "context", 0, std::int64_t{1} << 30);
    const glm::config::RunConfig rc = glm::config::load_run_config(config_path, sets);
    const glm::plan::Hardware hw = glm::plan::load_hardware(hardware);
    const glm::plan::InferencePlan p = glm::plan::plan_inference(
        rc.model, {.bits = bits, .group_size = group_size, .gpus = gpus, .batch = batch,
                   .context = context, .storage = storage, .kv_cache = kv_cache},
        hw);
    if (json) {
      std::cout << nlohmann::json{{"gpus", gpus}, {"bits", bits}, {"group_size", group_size},
                                  {"batch", p.request.batch}, {"context", p.request.context},
                                  {"storage", p.request.storage},
                                  {"kv_cache", p.request.kv_cache},
                                  {"linear_bytes", p.linear_bytes},
                                  {"scale_bytes", p.scale_bytes},
                                  {"replicated_bytes", p.replicated_bytes},
                                  {"kv_bytes", p.kv_bytes},
                                  {"activation_bytes", p.activation_bytes},
                                  {"total_bytes", p.total()}, {"usable_bytes", p.usable_bytes},
                                  {"fits", p.fits()}, {"max_context", p.max_context},
                                  {"max_batch", p.max_batch}}
                       .dump(1)
                << "\n";
    } else {
      std::cout << glm::plan::format_inference_plan(p, hw);
    }
    return 0;
  }
  glm::plan::PlanRequest req;
  req.config = glm::config::load_run_config(config_path, sets);
  if (vm.count("pp") && !vm.count("dp") && req.config.parallel.pipeline_first_last_layers >= 0) {
    // the config's first/last-stage size was chosen for its own pp
    const auto& src = glm::config::load_run_config(config_path);
    if (src.parallel.pp != pp) req.config.parallel.pipeline_first_last_layers = -1;
  }
  req.gpus = gpus;
  req.hardware = glm::plan::load_hardware(hardware);
  req.storage = storage;
  req.recompute = glm::plan::parse_recompute(
      vm.count("recompute") ? recompute : req.config.train.recompute, "--recompute");
  req.gpu_mem_gib = gpu_mem_gb;
  req.gemm_efficiency = efficiency;
  req.target_fraction = target_fraction;
  if (search) {
    const auto ranked = glm::plan::search_layouts(req);
    if (json) {
      nlohmann::json all = nlohmann::json::array();
      for (int i = 0; i < static_cast<int>(ranked.size()) && i < top; ++i)
        all.push_back(glm::plan::plan_json(ranked[i]));
      std::cout << all.dump(1) << "\n";
    } else {
      std::cout << glm::plan::format_search(ranked, req, top);
    }
    return 0;
  }
  const glm::plan::Plan p = glm::plan::make_plan(req);
  std::cout << (json ? glm::plan::plan_json(p).dump(1) + "\n" : glm::plan::format_plan(p, req));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return glm::apps::guarded_main([&] { return run(argc, argv); });
}
