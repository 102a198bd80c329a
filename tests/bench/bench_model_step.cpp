// Forward + backward throughput of a config (issue 2's benchmark), against the PyTorch
// reference model doing the same work in the same run on the same machine.
//
//   build/bin/bench_model_step --config configs/small.json --threads 2 [--peer]
//        [--optimizer none|adamw] [--precision fp32|fp16|bf16] [--results tests/bench/RESULTS.md]
//
// With --optimizer adamw a step is a whole training step as the trainer runs it: forward,
// backward, overflow check, gradient norm and clipping, fused AdamW on the fp32 master
// weights, and in fp16 / bf16 the refresh of the 16-bit weights; the peer adds
// torch.optim.AdamW, under autocast(bfloat16) for bf16.
//
// Prints tokens/s for both, their ratio, our achieved TFLOP/s and MFU against the peak the
// trainer uses for the precision (src/train/device_peak.h: the fp32 FMA peak, or the bf16
// dot product's when bf16 GEMMs run natively), and the fraction of the GEMM rate measured
// in this run for the precision (a square sgemm, or gemm16 on 16-bit operands). The
// PyTorch peer runs in its best configuration here (docs/design.md section 10): OpenMP
// OpenBLAS (OPENBLAS_CORETYPE=SkylakeX on an AVX-512 CPU), set for that command only.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/allocator.h"
#include "core/cpu_info.h"
#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "model/glm_model.h"
#include "model/init.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "train/device_peak.h"
#include "train/trainer.h"
#include "tests/bench/bench_util.h"

namespace po = boost::program_options;
using namespace glm;
using bench::bench_batch;
using bench::median;
using bench::run_capture;
using bench::seconds_since;

namespace {

// Best of 3 square GEMMs as the precision runs them (sgemm with the process's backend, or
// gemm16 on bf16 / f16 operands): the attainable GEMM rate.
double measure_gemm_flops(int n, const std::string& precision) {
  std::vector<float> a(std::size_t(n) * n, 0.5f), b(a), c(a.size());
  std::vector<std::uint16_t> a16(a.size(), 0x3f00), b16(a16);  // 0.5 in bf16 (f16: ~1.9)
  auto run = [&] {
    if (precision == "fp32") {
      kernels::GemmArgs g;
      g.M = g.N = g.K = n;
      g.A = a.data();
      g.B = b.data();
      g.C = c.data();
      g.lda = g.ldb = g.ldc = n;
      return kernels::gemm(g);
    }
    kernels::Gemm16Args g;
    g.M = g.N = g.K = n;
    g.type = precision == "bf16" ? DType::bf16 : DType::f16;
    g.A = a16.data();
    g.B = b16.data();
    g.C = c.data();
    g.lda = g.ldb = g.ldc = n;
    kernels::gemm16(g);
  };
  run();  // JIT / warm-up
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::max(best, 2.0 * n * n * n / seconds_since(t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string config_path, results, python, optimizer, precision;
  int threads, steps, warmup;
  bool peer = false;
  po::options_description opts("bench_model_step options");
  opts.add_options()("help", "show this help")(
      "config", po::value(&config_path)->default_value(std::string(GLM_SOURCE_DIR) + "/configs/small.json"),
      "run config (model and train.micro_batch_size)")(
      "threads", po::value(&threads)->default_value(2), "OpenMP threads (both sides)")(
      "steps", po::value(&steps)->default_value(10), "timed steps")(
      "warmup", po::value(&warmup)->default_value(2), "untimed steps first")(
      "peer", po::bool_switch(&peer), "also time the PyTorch reference model")(
      "optimizer", po::value(&optimizer)->default_value("none"), "none | adamw")(
      "precision", po::value(&precision), "fp32 | fp16 | bf16 (overrides train.precision)")(
      "python", po::value(&python)->default_value("/usr/bin/python3"), "python with torch")(
      "results", po::value(&results), "append a row to this RESULTS.md")(
      "set", po::value<std::vector<std::string>>()->composing(), "config override key=value");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  po::notify(vm);
  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  if (!precision.empty()) overrides.push_back("train.precision=\"" + precision + "\"");
  if (optimizer != "none" && optimizer != "adamw")
    throw InputError(fmt::format("--optimizer {}: expected none or adamw", optimizer));
  const bool adamw = optimizer == "adamw";

  config::RunConfig rc = config::load_run_config(config_path, overrides);
  omp_set_num_threads(threads);
  const int B = rc.train.micro_batch_size, T = rc.model.seq_length;

  // Measured before and after the timed steps (the larger counts): a busy neighbour on a
  // shared machine can depress one measurement.
  const modeldef::Precision precision_mode = rc.train.precision_mode();
  train::PeakFlops peak = train::rank_peak_flops(Device::cpu(), precision_mode);
  const double gemm_rate = measure_gemm_flops(2048, rc.train.precision);
  const std::string gemm_name = train::describe_gemms(Device::cpu(), precision_mode);
  fmt::print("machine: {} threads, ISA {}, peak {:.0f} GFLOP/s ({}); GEMMs {}: {:.0f} GFLOP/s\n",
             threads, cpu_isa(), peak.flops / 1e9, peak.basis, gemm_name, gemm_rate / 1e9);

  model::GLMModel m(rc.model, train::model_options(rc));
  const bool fp16 = rc.train.precision == "fp16";
  // As the trainer: 16-bit parameters are the fp32 master (the initial draw) rounded, and
  // AdamW writes them in its pass.
  const bool half = m.params().dtype() != DType::f32;
  auto layout = m.params().shared_layout();
  std::optional<modeldef::FlatParams> initial;
  if (half) initial.emplace(layout, Device::cpu(), MemoryKind::master);
  model::deepnorm_init(half ? *initial : m.params(), rc.train.seed);
  if (half) m.set_params(initial->flat());
  Tensor master = half ? initial->flat() : m.params().flat();
  Tensor* rounded = half ? &m.params().flat() : nullptr;
  optim::AdamW opt(layout, optim::adamw_config(rc.optim), master);
  const float loss_scale = fp16 ? 4096.f : 1.f;
  modeldef::Batch batch = bench_batch(B, T, rc.model.vocab_size);
  std::vector<double> ms;
  for (int s = 0; s < warmup + steps; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    m.zero_grads();
    m.forward_backward(batch, {.loss_scale = loss_scale, .step = static_cast<std::uint32_t>(s)});
    if (adamw) {  // the trainer's update path (src/train/step.cpp)
      Tensor& g = m.grads().flat();
      if (kernels::all_finite(g)) {
        double norm = std::sqrt(optim::local_sum_squares(g)) / loss_scale;
        opt.step(g, 1e-4, static_cast<float>(optim::clip_coefficient(norm, 1.0) / loss_scale),
                 rounded);
      }
    }
    if (s >= warmup) ms.push_back(1e3 * seconds_since(t0));
  }
  const train::PeakFlops peak_after = train::rank_peak_flops(Device::cpu(), precision_mode);
  if (peak_after.flops > peak.flops) peak = peak_after;
  const double step_ms = median(ms), tokens_per_s = B * T / (step_ms / 1e3);
  const double flops =
      3.0 * rc.model.forward_flops(B * T, static_cast<double>(batch.num_targets())) /
      (step_ms / 1e3);
  fmt::print("glm-train  {} {} {}: {:.0f} tokens/s, step {:.1f} ms (median of {}), {:.1f} GFLOP/s, "
             "MFU {:.1f}% of peak, {:.1f}% of the {} GEMM rate\n",
             config_path, rc.train.precision, adamw ? "fwd+bwd+adamw" : "fwd+bwd", tokens_per_s,
             step_ms, steps, flops / 1e9, 100 * flops / peak.flops, 100 * flops / gemm_rate,
             rc.train.precision);

  const MemoryStats mem = memory_stats(DeviceKind::cpu);
  std::string by_kind;
  for (int k = 0; k < kMemoryKinds; ++k)
    by_kind += fmt::format(" {} {:.0f}", memory_kind_name(static_cast<MemoryKind>(k)),
                           mem.peak_by[k] / 1e6);
  fmt::print("tensor memory: peak {:.0f} MB; each kind's own peak (MB):{}\n", mem.peak / 1e6,
             by_kind);

  double peer_tps = 0;
  if (peer) {
    // PyTorch's CPU autocast has bf16 only: an fp16 run is compared with its fp32 step.
    const std::string peer_precision = rc.train.precision == "fp16" ? "fp32" : rc.train.precision;
    if (peer_precision != rc.train.precision)
      fmt::print("pytorch peer in {} (its CPU autocast has no {})\n", peer_precision,
                 rc.train.precision);
    // OpenBLAS's SkylakeX kernels where the CPU has AVX-512 (its own detection misses some
    // virtual CPUs); forcing them elsewhere ends the peer with an illegal instruction.
    std::string cmd = fmt::format(
        "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp {}"
        "{} {}/tests/reference/bench_torch.py --config {} --micro-batch {} --threads {} --steps {} "
        "--warmup {} --optimizer {} --precision {}",
        cpu_isa() == "avx512" ? "OPENBLAS_CORETYPE=SkylakeX " : "", python, GLM_SOURCE_DIR,
        config_path, B, threads, steps, warmup, optimizer, peer_precision);
    const std::string out = run_capture(cmd);
    const std::size_t brace = out.find('{');
    const auto j = brace == std::string::npos
                       ? nlohmann::json(nlohmann::json::value_t::discarded)
                       : nlohmann::json::parse(out.substr(brace), nullptr, false);
    if (j.is_discarded()) {
      fmt::print(stderr, "PyTorch peer failed: {}\n", cmd);
      return 1;
    }
    peer_tps = j["tokens_per_s_median"].get<double>();
    fmt::print("pytorch {}: {:.0f} tokens/s, step {:.1f} ms\n", j["torch"].get<std::string>(),
               peer_tps, j["step_ms_median"].get<double>());
    fmt::print("ratio glm-train / pytorch: {:.2f}x\n", tokens_per_s / peer_tps);
  }

  if (!results.empty()) {
    char date[16];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    std::ofstream out(results, std::ios::app);
    out << fmt::format(
        "| {} tokens/s, {} | {} B={} T={} | CPU {} threads {} | {:.0f} (MFU {:.1f}%, {:.0f}% of "
        "the {} GEMM rate) | {} | {} | {} |\n",
        adamw ? "training step" : "fwd+bwd", rc.train.precision, config_path.substr(config_path.rfind('/') + 1), B, T, threads,
        cpu_isa(), tokens_per_s, 100 * flops / peak.flops, 100 * flops / gemm_rate,
        rc.train.precision,
        peer ? fmt::format("{:.0f} (PyTorch)", peer_tps) : "-",
        peer ? fmt::format("{:.2f}x", tokens_per_s / peer_tps) : "-", date);
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "bench_model_step: {}\n", e.what());
  return 2;
}
