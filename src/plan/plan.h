// A training plan: for a run config, a number of GPUs and a machine, the memory per GPU of
// every pipeline stage, whether each fits, and the step time, tokens/s, TFLOP/s per GPU,
// MFU and HFU of the layout; or (search) every layout ranked. Used by glm-plan and by
// glm-train --dry-run; every number is derived from the inputs the plan lists.
//
//   PlanRequest req{.config = rc, .gpus = 768, .hardware = load_hardware("a100-40g")};
//   Plan p = make_plan(req);            // layout from rc.parallel / rc.train
//   std::vector<Plan> ranked = search_layouts(req);
#pragma once

#include <string>
#include <vector>
#include <nlohmann/json_fwd.hpp>

#include "config/run_config.h"
#include "plan/hardware.h"
#include "plan/memory_plan.h"
#include "plan/step_time.h"

namespace glm::plan {

struct PlanRequest {
  config::RunConfig config;  // model, precision, micro-batch, recompute, batch, layout
  int gpus = 1;
  Hardware hardware;
  std::string storage = "as-built";  // memory_plan.h
  Recompute recompute = Recompute::none;
  double gpu_mem_gib = 0;        // > 0: replaces the hardware's usable memory
  double gemm_efficiency = 0;    // > 0: replaces the hardware file's
  double target_fraction = 1.0;  // head rows per position (1: every position, the bound)
};

struct Plan {
  LayoutChoice layout;
  Storage storage;
  std::vector<StageMemory> memory;
  StepTime time;
  double limit_bytes = 0;  // usable memory per GPU
  bool fits() const;
  double max_stage_bytes() const;
  std::vector<std::string> notes;  // what the plan assumes beyond its inputs
};

// The config's layout resolved for `gpus` (parallel.dp 0 = gpus / (tp x pp)) and checked
// as the trainer would, without allocating: InputError for sizes that do not multiply to
// gpus, heads/vocabulary/f not divisible by tp, layers that do not split over pp, batch
// sizes not multiples of micro-batch x dp, fewer micro-batches than stages.
config::ParallelConfig validate_layout(const config::RunConfig& rc, int gpus);

// The layout in req.config (parallel.dp 0 = gpus / (tp x pp)). InputError when the layout
// cannot run: sizes that do not multiply to gpus, heads/vocabulary/f not divisible by tp,
// layers that do not split over pp, batch sizes not multiples of micro-batch x dp, fewer
// micro-batches than stages.
Plan make_plan(const PlanRequest& req);

// Every layout of req.gpus that can run (tp up to a node, pp, ZeRO on/off, recompute none
// or full, micro-batch 1..8, even or GLM-130B-style lighter first/last stages), fitting
// ones first, then by tokens/s.
std::vector<Plan> search_layouts(const PlanRequest& req);

// Human-readable report and a JSON object of the same numbers.
std::string format_plan(const Plan& p, const PlanRequest& req);
std::string format_search(const std::vector<Plan>& ranked, const PlanRequest& req, int top);
nlohmann::json plan_json(const Plan& p);

}  // namespace glm::plan
