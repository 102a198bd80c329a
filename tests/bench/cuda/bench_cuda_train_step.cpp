// The GPU training-step benchmark (issue 6): whole optimizer steps of a config on one GPU,
// exactly as the trainer runs them (forward + backward of one micro-batch, overflow check,
// gradient norm and clipping, fused AdamW on the fp32 master weights, refresh of the fp16
// weights), against the PyTorch reference model on the same GPU in the same run.
//
//   build/bin/bench_cuda_train_step [--config configs/1.3b.json] [--micro-batch B]
//        [--steps 5] [--warmup 2] [--precision fp16|fp32] [--peer] [--results RESULTS.md]
//
// The micro-batch is the config's, halved until the step fits in memory (the first that
// fits is reported). Prints tokens/s, achieved TFLOP/s (3 x forward FLOPs per token: the
// model FLOPs of docs/design.md 5b, attention included, no recomputation counted) and MFU against
// the card's dense datasheet peak for the precision (train/device_peak.h), and peak device
// memory. Without a GPU it prints "no CUDA device present" and exits 0.
#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/allocator.h"
#include "core/error.h"
#include "kernels/elementwise.h"
#include "model/glm_model.h"
#include "model/init.h"
#include "modeldef/param_range.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "tests/bench/bench_util.h"
#include "train/device_peak.h"
#include "train/trainer.h"
#include "core/cuda_device.h"

namespace po = boost::program_options;
using namespace glm;
using bench::bench_batch;
using bench::median;
using bench::run_capture;
using bench::seconds_since;

namespace {

struct Timing {
  std::vector<double> step_ms;
  double peak_gb = 0;
};

// warmup + steps training steps at micro-batch B; throws glm::Error when out of memory.
Timing time_steps(const config::RunConfig& rc, int B, int warmup, int steps) {
  const Device gpu = Device::cuda(current_cuda_device());
  model::ModelOptions mo = train::model_options(rc);
  mo.device = gpu;
  model::GLMModel m(rc.model, mo);
  const bool fp16 = rc.train.precision == "fp16";
  // As the trainer: 16-bit parameters are the fp32 master (the initial draw) rounded, and
  // AdamW writes them in its pass.
  const bool half = m.params().dtype() != DType::f32;
  auto layout = m.params().shared_layout();
  modeldef::FlatParams initial(layout, gpu);
  model::deepnorm_init(half ? initial : m.params(), rc.train.seed);
  if (half) m.set_params(initial.flat());
  Tensor master = half ? initial.flat() : m.params().flat();
  Tensor* rounded = half ? &m.params().flat() : nullptr;
  optim::AdamW opt(layout, optim::adamw_config(rc.optim), master);
  const float loss_scale = fp16 ? 4096.f : 1.f;
  const modeldef::Batch batch = bench_batch(B, rc.model.seq_length, rc.model.vocab_size);
  Timing t;
  reset_peak_memory(DeviceKind::cuda);
  for (int s = 0; s < warmup + steps; ++s) {
    cuda_synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    m.zero_grads();
    m.forward_backward(batch, {.loss_scale = loss_scale, .step = static_cast<std::uint32_t>(s)});
    Tensor& g = m.grads().flat();
    if (kernels::all_finite(g)) {  // the trainer's update path (src/train/step.cpp)
      const double sq = optim::primary_sum_squares(*layout, g, modeldef::full_range(*layout));
      const double norm = std::sqrt(sq) / loss_scale;
      opt.step(g, 1e-4, static_cast<float>(optim::clip_coefficient(norm, 1.0) / loss_scale),
               rounded);
    } else {
      fmt::print("step {}: non-finite gradients (skipped, as the trainer would)\n", s);
    }
    cuda_synchronize();
    if (s >= warmup) t.step_ms.push_back(1e3 * seconds_since(t0));
  }
  t.peak_gb = memory_stats(DeviceKind::cuda).peak / 1e9;
  return t;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string config_path, results, python, precision;
  int micro_batch = 0, steps = 5, warmup = 2;
  bool peer = false;
  po::options_description opts("bench_cuda_train_step options");
  opts.add_options()("help", "show this help")(
      "config", po::value(&config_path)->default_value(bench::source_dir() + "/configs/1.3b.json"),
      "run config (model, train.micro_batch_size, train.precision)")(
      "micro-batch", po::value(&micro_batch), "micro-batch (default: the config's, halved until it fits)")(
      "steps", po::value(&steps)->default_value(5), "timed steps")(
      "warmup", po::value(&warmup)->default_value(2), "untimed steps first")(
      "precision", po::value(&precision), "fp32 | fp16 (overrides train.precision)")(
      "peer", po::bool_switch(&peer), "also time the PyTorch reference model on the GPU")(
      "python", po::value(&python)->default_value("python3"), "python with torch (CUDA)")(
      "results", po::value(&results), "append a row to this RESULTS.md")(
      "set", po::value<std::vector<std::string>>()->composing(), "config override key=value");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  po::notify(vm);
  if (!built_with_cuda() || cuda_device_count() == 0) {
    fmt::print("bench_cuda_train_step: no CUDA device present: GPU benchmark not run\n");
    return 0;
  }
  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  if (!precision.empty()) overrides.push_back("train.precision=\"" + precision + "\"");
  const config::RunConfig rc = config::load_run_config(config_path, overrides);
  const bool fp16 = rc.train.precision == "fp16";
  const std::string card = cuda_device_name(current_cuda_device());
  const double peak = train::peak_flops_override(train::cuda_peak_flops(card, fp16));
  const int T = rc.model.seq_length;
  fmt::print("device: {}; peak {:.1f} TFLOP/s ({}); model {:.3f} B parameters, T={}\n", card,
             peak / 1e12, fp16 ? "fp16 tensor cores, dense" : "fp32, no TF32",
             rc.model.num_parameters() / 1e9, T);

  int B = micro_batch > 0 ? micro_batch : rc.train.micro_batch_size;
  Timing t;
  for (;; B /= 2) {
    try {
      t = time_steps(rc, B, warmup, steps);
      break;
    } catch (const Error& e) {
      if (micro_batch > 0 || B == 1 || std::string(e.what()).find("out of memory") == std::string::npos)
        throw;
      fmt::print("micro-batch {}: out of memory ({}); trying {}\n", B, e.what(), B / 2);
    }
  }
  const double step_ms = median(t.step_ms), tokens_per_s = B * T / (step_ms / 1e3);
  // bench_batch gives every position a target: the head runs on every row
  const double flops = 3.0 * rc.model.forward_flops(B * T, B * T) / (step_ms / 1e3);
  const double mfu = peak > 0 ? flops / peak : 0;
  fmt::print("glm-train {} {} B={} T={}: {:.0f} tokens/s, step {:.1f} ms (median of {}), "
             "{:.1f} TFLOP/s, MFU {:.1f}%, peak memory {:.1f} GB\n",
             config_path.substr(config_path.rfind('/') + 1), rc.train.precision, B, T, tokens_per_s,
             step_ms, steps, flops / 1e12, 100 * mfu, t.peak_gb);

  double peer_tps = 0;
  std::string peer_note = "-";
  if (peer) {
    const std::string cmd = fmt::format(
        "{} {}/tests/reference/bench_torch.py --config {} --micro-batch {} --steps {} --warmup {} "
        "--optimizer adamw --precision {} --device cuda",
        python, bench::source_dir(), config_path, B, steps, warmup, rc.train.precision);
    const std::string out = run_capture(cmd);
    const auto brace = out.find('{');
    auto j = brace == std::string::npos ? nlohmann::json() : nlohmann::json::parse(out.substr(brace), nullptr, false);
    if (out.empty() || j.is_discarded() || !j.contains("tokens_per_s_median")) {
      fmt::print("PyTorch peer failed (out of memory or no CUDA torch?): {}\n", cmd);
      peer_note = "failed";
    } else {
      peer_tps = j["tokens_per_s_median"].get<double>();
      fmt::print("pytorch {} (eager, autocast {}): {:.0f} tokens/s, step {:.1f} ms\n",
                 j["torch"].get<std::string>(), rc.train.precision, peer_tps,
                 j["step_ms_median"].get<double>());
      fmt::print("ratio glm-train / pytorch: {:.2f}x\n", tokens_per_s / peer_tps);
      peer_note = fmt::format("{:.0f} (PyTorch eager)", peer_tps);
    }
  }
  if (!results.empty()) {
    char date[16];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    std::ofstream out(results, std::ios::app);
    out << fmt::format("| training step tokens/s, {} | {} B={} T={} | {} | {:.0f} ({:.1f} TFLOP/s, "
                       "MFU {:.1f}%, {:.1f} GB) | {} | {} | {} |\n",
                       rc.train.precision, config_path.substr(config_path.rfind('/') + 1), B, T,
                       card, tokens_per_s, flops / 1e12, 100 * mfu, t.peak_gb, peer_note,
                       peer_tps > 0 ? fmt::format("{:.2f}x", tokens_per_s / peer_tps) : "-", date);
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "bench_cuda_train_step: {}\n", e.what());
  return 2;
}
