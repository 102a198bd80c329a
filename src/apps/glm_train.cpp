// glm-train: pre-train a GLM model from a JSON config on a glm-preprocess data directory.
//
//   glm-train --config FILE [--data DIR] [--save DIR] [--load DIR [--load-iter N]]
//             [--save-interval N] [--train-iters N] [--dp N --tp N --pp N]
//             [--precision fp32|fp16|bf16|auto] [--device cpu|cuda] [--seed N] [--log-dir DIR]
//             [--set key=value]...
//   (under mpirun -n R: R = dp x tp x pp ranks; the layout comes from the flags or the
//    config's "parallel" section, dp defaulting to R / (tp x pp))
//
// Writes a log line every train.log_interval steps and <log-dir>/metrics.jsonl; checkpoints
// to --save (checkpoint/checkpoint.h). SIGTERM or SIGUSR1: finish the step, save, exit 0.
#include <mpi.h>
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/app_main.h"
#include "apps/mpi_session.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "modeldef/param_layout.h"
#include "parallel/mpi_communicator.h"
#include "train/hang_watchdog.h"
#ifdef GLM_WITH_NCCL
#include "parallel/nccl_communicator.h"
#endif
#include "config/layout.h"
#include "plan/plan.h"
#include "train/device_policy.h"
#include "train/signals.h"
#include "train/trainer.h"
#include "core/cuda_device.h"

namespace po = boost::program_options;

namespace {

using glm::apps::MpiSession;

// --dry-run: the layout checks the trainer makes, on the config alone.
void print_dry_run(const glm::config::RunConfig& rc, int ranks) {
  const glm::config::ParallelConfig par = glm::plan::validate_layout(rc, ranks);
  std::cout << fmt::format("{}: valid for dp {} x tp {} x pp {} = {} ranks{}, {} parameters\n",
                           rc.source, par.dp, par.tp, par.pp, ranks, par.zero ? " (ZeRO-1)" : "",
                           glm::modeldef::ParamLayout(rc.model, {}).total());
  for (int stage = 0; stage < par.pp; ++stage) {
    const glm::modeldef::ModelShard s = glm::config::shard_for(rc.model, par, 0, stage);
    std::cout << fmt::format("  stage {}: layers [{}, {}){}{}, {} parameters per TP rank\n", stage,
                             s.first_layer, s.end_layer(rc.model),
                             s.has_embedding ? " + embedding" : "", s.has_head ? " + head" : "",
                             glm::modeldef::ParamLayout(rc.model, s).total());
  }
}

int run(int argc, char** argv, const MpiSession& mpi) {
  std::string config_path, data_dir, log_dir, precision, device, save_dir, load_dir;
  std::int64_t train_iters = 0, seed = 0, save_interval = 0, load_iter = 0;
  int dp = -1, tp = -1, pp = -1, zero = -1;
  double collective_timeout_s = 600, hang_timeout_s = 0;
  bool comm_log = false, dry_run = false, debug_nonfinite = false;
  std::vector<std::string> sets;
  po::options_description desc(
      "glm-train: pre-train a GLM model (docs/design.md sections 2, 5b).\n\n"
      "Usage: [mpirun -n R] glm-train --config FILE --data DIR [options]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("config", po::value(&config_path), "run config JSON (configs/tiny.json, configs/small.json)")
    ("data", po::value(&data_dir), "glm-preprocess output directory (overrides train.data_dir)")
    ("train-iters", po::value(&train_iters), "optimizer steps (overrides train.train_iters)")
    ("precision", po::value(&precision), "fp32 | fp16 | bf16 | auto (bf16 where the CPU multiplies bf16 natively, else fp32; "
     "overrides train.precision)")
    ("device", po::value(&device), "cpu | cuda (overrides train.device; cuda: one GPU per rank, "
     "GPU i for the node's local rank i, NCCL between ranks)")
    ("seed", po::value(&seed), "seed of init, data order, masking, dropout (train.seed)")
    ("log-dir", po::value(&log_dir)->default_value("logs/run"), "where metrics.jsonl goes")
    ("save", po::value(&save_dir), "checkpoint directory (overrides train.save_dir)")
    ("save-interval", po::value(&save_interval),
     "checkpoint every N steps; 0 = at the end and on SIGTERM/SIGUSR1 (train.save_interval)")
    ("load", po::value(&load_dir), "resume from this save directory's latest checkpoint, or "
     "from a checkpoint directory (iter_XXXXXXXX)")
    ("load-iter", po::value(&load_iter), "with --load: resume from iteration N instead of latest")
    ("dp", po::value(&dp), "data-parallel size (parallel.dp; default: ranks / (tp x pp))")
    ("zero", po::value(&zero), "1: ZeRO-1, shard the optimizer state over the DP group (parallel.zero)")
    ("hang-timeout", po::value(&hang_timeout_s)->default_value(0),
     "abort the job when a rank makes no progress (data, a layer's forward or backward, a "
     "reduction, the optimizer, a save, an evaluation) for this many seconds, naming every "
     "rank's phase (0 = off)")
    ("collective-timeout", po::value(&collective_timeout_s)->default_value(600),
     "seconds a collective may take before the job is aborted (naming rank and operation)")
    ("tp", po::value(&tp), "tensor-parallel size (parallel.tp, default 1)")
    ("pp", po::value(&pp), "pipeline-parallel size (parallel.pp, default 1)")
    ("comm-log", po::bool_switch(&comm_log), "every rank logs the bytes it sends per step, per "
     "group, to <log-dir>/comm_rank_RRRRR.jsonl")
    ("debug-nonfinite", po::bool_switch(&debug_nonfinite), "on a step skipped for inf/nan "
     "gradients, every rank names the first layer and tensor (forward activation, activation "
     "gradient, parameter gradient) that became non-finite; checks every tensor")
    ("dry-run", po::bool_switch(&dry_run), "validate the config and its layout (parallel "
     "section or --dp/--tp/--pp, for dp x tp x pp ranks) without allocating, print each "
     "stage's parameters, exit; glm-plan estimates memory and speed")
    ("set", po::value(&sets)->composing(), "config override section.key=value (repeatable)");
  // clang-format on
  po::variables_map vm;
  if (auto stop =
          glm::apps::parse_options(po::command_line_parser(argc, argv).options(desc), argc, desc,
                                   vm, {.bare_is_usage = false, .print = mpi.rank == 0}))
    return *stop;
  if (config_path.empty()) throw glm::InputError("--config is required (see --help)");
  // The ranges of the config fields these options set (config/run_config.h), and a week
  // as the longest a collective may sensibly wait.
  using glm::config::kMaxSeed, glm::config::kMaxTrainSteps;
  glm::apps::require_range<std::int64_t>(vm, "train-iters", 1, kMaxTrainSteps);
  glm::apps::require_range<std::int64_t>(vm, "seed", 0, kMaxSeed);
  glm::apps::require_range<std::int64_t>(vm, "save-interval", 0, kMaxTrainSteps);
  glm::apps::require_range<std::int64_t>(vm, "load-iter", 0, kMaxTrainSteps);
  glm::apps::require_above<double>(vm, "collective-timeout", 0, 7 * 86400);
  glm::apps::require_range<double>(vm, "hang-timeout", 0, 7 * 86400);
  if (!data_dir.empty()) sets.push_back("train.data_dir=\"" + data_dir + "\"");
  if (vm.count("train-iters")) sets.push_back("train.train_iters=" + std::to_string(train_iters));
  if (!precision.empty()) sets.push_back("train.precision=\"" + precision + "\"");
  if (!device.empty()) sets.push_back("train.device=" + nlohmann::json(device).dump());
  if (vm.count("seed")) sets.push_back("train.seed=" + std::to_string(seed));
  if (!save_dir.empty()) sets.push_back("train.save_dir=" + nlohmann::json(save_dir).dump());
  if (vm.count("save-interval"))
    sets.push_back("train.save_interval=" + std::to_string(save_interval));
  if (vm.count("load-iter") && load_dir.empty())
    throw glm::InputError("--load-iter needs --load DIR");

  for (auto [flag, v] : {std::pair{"dp", dp}, {"tp", tp}, {"pp", pp}})
    if (vm.count(flag)) {
      glm::apps::require_range(vm, flag, 1, 1 << 20);
      sets.push_back(fmt::format("parallel.{}={}", flag, v));
    }
  if (vm.count("zero")) {
    if (zero != 0 && zero != 1) throw glm::InputError(fmt::format("--zero {}: expected 0 or 1", zero));
    sets.push_back(fmt::format("parallel.zero={}", zero == 1 ? "true" : "false"));
  }

  glm::config::RunConfig rc = glm::config::load_run_config(config_path, sets);
  auto& par = rc.parallel;
  if (dry_run) {
    if (mpi.rank == 0) print_dry_run(rc, par.dp > 0 ? par.dp * par.tp * par.pp : mpi.size);
    return 0;
  }
  if (par.dp == 0) {
    if (mpi.size % (par.tp * par.pp) != 0)
      throw glm::InputError(fmt::format("world size {} is not a multiple of tp x pp = {} x {}",
                                        mpi.size, par.tp, par.pp));
    par.dp = mpi.size / (par.tp * par.pp);
  }
  if (par.dp * par.tp * par.pp != mpi.size)
    throw glm::InputError(fmt::format("world size {} != dp*tp*pp = {}*{}*{} = {} (mpirun -n {} "
                                      "for this layout)",
                                      mpi.size, par.dp, par.tp, par.pp, par.dp * par.tp * par.pp,
                                      par.dp * par.tp * par.pp));
  glm::parallel::Topology topology(par.dp, par.tp, par.pp, mpi.size);
  glm::parallel::ProcessGroups groups;
  if (rc.train.device == "cuda" && glm::cuda_device_count() > 0) {
    // One GPU per rank: GPU i for the node's local rank i (ranks sharing memory = one node).
    const glm::apps::NodeRanks node(MPI_COMM_WORLD);
    const int gpu = glm::parallel::rank_gpu(node.rank, node.size, glm::cuda_device_count());
    glm::set_current_cuda_device(gpu);
#ifdef GLM_WITH_NCCL
    if (mpi.size > 1)
      groups = glm::parallel::make_nccl_process_groups(topology, MPI_COMM_WORLD,
                                                       collective_timeout_s, gpu);
#endif
  }
  if (!groups.world)  // CPU runs, one-rank GPU runs (and the trainer's clear refusals)
    groups = glm::parallel::make_process_groups(topology, MPI_COMM_WORLD, collective_timeout_s);
  glm::train::Trainer trainer(rc, {.log_dir = log_dir, .groups = &groups,
                                   .comm_log = comm_log, .debug_nonfinite = debug_nonfinite});
  if (!load_dir.empty())
    trainer.load(load_dir, vm.count("load-iter") ? std::optional<std::int64_t>(load_iter)
                                                  : std::nullopt);
  else if (rc.resume.has_value_overrides())
    spdlog::warn("{}: resume.lr / lr_min / loss_scale / egs_alpha apply only when resuming "
                 "(--load); ignored", rc.source);
  std::unique_ptr<glm::train::HangWatchdog> watchdog;  // armed once set-up and load are done
  if (hang_timeout_s > 0)
    watchdog = std::make_unique<glm::train::HangWatchdog>(
        hang_timeout_s, mpi.rank, log_dir, [](const std::string& message) {
          spdlog::error("{}", message);
          spdlog::default_logger()->flush();
          MPI_Abort(MPI_COMM_WORLD, 1);
        });
  auto [before, after] = trainer.run();
  if (trainer.stop_signals()) {
    spdlog::info("stopped by {} after step {}", glm::train::stop_signals_name(trainer.stop_signals()),
                 trainer.state().step);
    return 0;
  }
  spdlog::info("held-out loss {:.4f} (perplexity {:.2f}, {:.4f} bits/byte) -> {:.4f} "
               "(perplexity {:.2f}, {:.4f} bits/byte) after {} steps",
               before.loss, before.perplexity(), before.bits_per_byte(), after.loss,
               after.perplexity(), after.bits_per_byte(), trainer.state().step);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before MPI and OpenMP start threads: SIGTERM, SIGUSR1 and SIGINT go to one sigwait
  // thread, which records them; the trainer stops at the next step with a checkpoint.
  glm::train::start_stop_signal_thread();
  MpiSession mpi(argc, argv);
  spdlog::set_pattern(fmt::format("[glm-train r{}] %^%l%$: %v", mpi.rank));
  if (mpi.rank != 0) spdlog::set_level(spdlog::level::warn);  // rank 0 reports progress
  return glm::apps::guarded_main([&] { return run(argc, argv, mpi); });
}
