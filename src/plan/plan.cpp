#include "plan/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/layout.h"
#include "core/error.h"

namespace glm::plan {

bool Plan::fits() const { return max_stage_bytes() <= limit_bytes; }

double Plan::max_stage_bytes() const {
  double worst = 0;
  for (const StageMemory& m : memory) worst = std::max(worst, m.total());
  return worst;
}

config::ParallelConfig validate_layout(const config::RunConfig& rc, int gpus) {
  config::ParallelConfig par = rc.parallel;
  if (par.dp == 0) {
    if (gpus % (par.tp * par.pp) != 0)
      throw InputError(
          fmt::format("{} GPUs is not a multiple of tp x pp = {} x {}", gpus, par.tp, par.pp));
    par.dp = gpus / (par.tp * par.pp);
  }
  if (par.dp * par.tp * par.pp != gpus)
    throw InputError(
        fmt::format("{} GPUs != dp x tp x pp = {} x {} x {}", gpus, par.dp, par.tp, par.pp));
  config::check_batch_layout(rc, rc.train.micro_batch_size, par.dp, par.pp);
  for (int stage = 0; stage < par.pp; ++stage)  // layer split and TP divisibility
    config::shard_for(rc.model, par, 0, stage)
        .validate(rc.model, fmt::format("{} with tp {} pp {}", rc.source, par.tp, par.pp));
  return par;
}

Plan make_plan(const PlanRequest& req) {
  const config::RunConfig& rc = req.config;
  const config::ParallelConfig par = validate_layout(rc, req.gpus);
  const int mb = rc.train.micro_batch_size;
  Plan p;
  p.layout.parallel = par;
  p.layout.recompute = req.recompute;
  p.layout.micro_batch = mb;
  p.layout.global_batch = rc.batch.global_batch_size;
  p.layout.cuda = req.hardware.cuda;
  p.layout.target_fraction = req.target_fraction;
  p.layout.background_save = rc.train.save_mode == "async";
  p.storage = storage_policy(req.storage, rc.train.precision);
  p.memory = plan_memory(rc.model, p.layout, p.storage);
  p.time = plan_step_time(rc.model, p.layout, p.storage, req.hardware, rc.train.precision,
                          req.gemm_efficiency);
  const double gib = 1024.0 * 1024.0 * 1024.0;
  p.limit_bytes = req.gpu_mem_gib > 0
                      ? req.gpu_mem_gib * gib
                      : (req.hardware.hbm_gib.value - req.hardware.reserved_gib.value) * gib;
  if (req.recompute == Recompute::selective)
    p.notes.push_back("selective recomputation is planned but glm-train implements none|full");
  if (p.layout.micro_batches() < par.pp) p.notes.push_back("fewer micro-batches than stages");
  if (p.layout.background_save) {
    double most = 0;
    for (const StageMemory& m : p.memory) most = std::max(most, m.save_snapshot);
    p.notes.push_back(fmt::format("train.save_mode async: each rank holds a host snapshot of its "
                                  "optimizer state for the background save, up to {:.2f} GiB "
                                  "(host memory, not counted above)",
                                  most / gib));
  }
  return p;
}

namespace {

std::vector<int> divisors(int n) {
  std::vector<int> d;
  for (int k = 1; k <= n; ++k)
    if (n % k == 0) d.push_back(k);
  return d;
}

}  // namespace

std::vector<Plan> search_layouts(const PlanRequest& req) {
  std::vector<Plan> out;
  const auto& c = req.config.model;
  const int gpn = static_cast<int>(req.hardware.gpus_per_node.value);
  for (int tp : divisors(req.gpus)) {
    if (tp > gpn) break;
    for (int pp : divisors(req.gpus / tp)) {
      if (pp > c.num_layers) break;
      const int dp = req.gpus / (tp * pp);
      // even split, and GLM-130B's: one layer fewer on the first and last stage
      std::vector<int> first_last = {-1};
      if (pp > 2) first_last.push_back((c.num_layers + 2 + pp - 1) / pp - 1);
      for (int fl : first_last)
        for (bool zero : {false, true}) {
          if (zero && dp == 1) continue;
          for (Recompute r : {Recompute::none, Recompute::full})
            for (int mb : {1, 2, 4, 8}) {
              PlanRequest q = req;
              q.config.parallel = {
                  .dp = dp, .tp = tp, .pp = pp, .zero = zero, .pipeline_first_last_layers = fl};
              q.config.train.micro_batch_size = mb;
              q.recompute = r;
              try {
                out.push_back(make_plan(q));
              } catch (const InputError&) {
                // a layout that cannot run is not a candidate
              }
            }
        }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Plan& a, const Plan& b) {
    if (a.fits() != b.fits()) return a.fits();
    return a.time.tokens_per_s > b.time.tokens_per_s;
  });
  return out;
}

}  // namespace glm::plan
