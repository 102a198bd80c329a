// GPU decode speed of the inference engine (infer/engine.h, docs/design.md section 8):
// batch-1 greedy decoding on a randomly initialised model of --config, exported in a temp
// directory as fp16, INT8 per-row, INT4 per-row and INT4 group 128 (as the CPU decode
// benchmark tests/bench/bench_quant_gemv.cpp does). Per format: tokens/s, the weight bytes
// one token streams and the implied GB/s. A 16-token [gMASK] prompt, then --steps decode
// steps (<eop> disabled: a random model may predict it); the median of --repeats runs after
// one warm-up run. Without a GPU it prints "no CUDA device present: skipped" and exits 0.
//
//   build/bin/bench_cuda_decode [--config configs/small.json] [--steps 64] [--repeats 5]
//                               [--cpu]   (also time the CPU engine on the same files)
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "infer/engine.h"
#include "infer/generate.h"
#include "kernels/cuda/device_description.h"
#include "tests/bench/bench_util.h"
#include "tests/cuda/random_model_file.h"
#include "core/cuda_device.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace glm;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median decode tokens/s of `repeats` generations (after one warm-up).
double decode_tokens_per_s(const infer::Engine& e, const data::Tokenizer& tok, int steps,
                           int repeats) {
  std::vector<std::int32_t> prompt;
  for (int i = 0; i < 16; ++i) prompt.push_back(100 + 13 * i % 250);
  data::SpecialTokens sp = tok.special();
  sp.eop = -1;
  infer::GenerateOptions g;
  g.max_new_tokens = steps;
  std::vector<double> tps;
  for (int r = 0; r <= repeats; ++r) {
    const infer::Generation out = infer::generate(e, sp, tok.vocab_size(), prompt, g);
    if (r > 0) tps.push_back(out.decode_steps / out.decode_seconds);
  }
  return median(tps);
}

std::string default_config() {
  if (fs::exists("configs/small.json")) return "configs/small.json";
  return bench::source_dir() + "/configs/small.json";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = default_config();
  int steps = 64, repeats = 5;
  po::options_description desc("bench_cuda_decode: batch-1 decode tokens/s of the CUDA engine");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("config", po::value(&config), "run config of the random model (default configs/small.json)")
    ("steps", po::value(&steps), "decode steps per run (default 64)")
    ("repeats", po::value(&repeats), "timed runs per format; the median is reported (default 5)")
    ("cpu", "also time the CPU engine on the same files");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (steps < 1 || repeats < 1) {
    std::cerr << "bench_cuda_decode: --steps and --repeats must be >= 1\n";
    return 2;
  }
  if (cuda_device_count() == 0) {
    std::cout << "bench_cuda_decode: no CUDA device present: skipped\n";
    return 0;
  }
  const std::string dir = (fs::temp_directory_path() / "bench_cuda_decode").string();
  try {
    const config::RunConfig rc = config::load_run_config(config);
    const data::Tokenizer tok = cudatest::synthetic_tokenizer();
    model::GLMModel m = cudatest::random_model(rc.model, 1234, 0.f);
    fs::create_directories(dir);
    const std::string gpu = kernels::cuda::device_description(0);
    std::cout << fmt::format(
        "decode on {}: {} (random init), 16-token prompt, {} steps, median "
        "of {}\n",
        gpu, fs::path(config).filename().string(), steps, repeats);
    for (auto [bits, group, name] : {std::tuple<int, int, const char*>{16, 0, "fp16"},
                                     {8, 0, "int8 per-row"},
                                     {4, 0, "int4 per-row"},
                                     {4, 128, "int4 group 128"}}) {
      const std::string path = dir + "/model.h5";
      cudatest::write_model(m, rc, tok, path, bits, group, 1);
      infer::Engine e(infer::load_model_file(path), Device::cuda());
      const double mb = e.model().weight_bytes() / 1e6;
      const double tps = decode_tokens_per_s(e, tok, steps, repeats);
      std::cout << fmt::format(
                       "decode cuda {:<15} {:8.1f} tokens/s  ({:.1f} MB of weights per token, "
                       "{:.1f} GB/s)\n",
                       name, tps, mb, tps * mb / 1e3)
                << std::flush;
      if (vm.count("cpu")) {
        infer::Engine c(infer::load_model_file(path));
        const double cps = decode_tokens_per_s(c, tok, steps, 1);
        std::cout << fmt::format("decode cpu  {:<15} {:8.1f} tokens/s\n", name, cps) << std::flush;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_cuda_decode: " << e.what() << "\n";
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
