// Batch-1 decode speed of the weight-only quantized kernels (kernels/quant.h) and of the
// inference engine (docs/design.md section 8: decode is memory-bound, so the target is a fraction
// of memory bandwidth).
//
//   OMP_NUM_THREADS=2 build/bin/bench_quant_gemv [--threads 2] [--repeats 7]
//       [--config configs/small.json --tokenizer data_out/corpus/tokenizer.model]
//       [--results tests/bench/RESULTS.md]
//
// 1. STREAM triad a = b + s*c over three 512 MB arrays (bytes counted: 2 reads + 1 write),
//    and a read-only pass (sum) for reference.
// 2. GEMV y = x W^T on W [4096, 4096] as fp16, INT8 per-row, INT4 per-row, INT4 group 128
//    and group 64, the quantized ones with fp32 x and with x rounded to int8
//    (kernels::QuantActivations): GB/s of weight bytes (packed values + scales) read per
//    call. The machine's last-level cache is large (300 MB here), so the calls cycle
//    through copies of W totalling over 1 GB: every call streams its weights from memory.
// 3. Decode tokens/s of the engine on a randomly initialised model of --config (fp16, INT8,
//    INT4 group 64: 128 does not divide small.json's f = 1344): a 16-token [gMASK] prompt, then 64
//    greedy decode steps.
// Every figure is the median of --repeats runs.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/cpu_info.h"
#include "core/half.h"
#include "data/tokenizer.h"
#include "infer/export.h"
#include "infer/generate.h"
#include "kernels/quant.h"
#include "model/glm_model.h"
#include "model/init.h"

namespace po = boost::program_options;
using namespace glm;

namespace {

using clk = std::chrono::steady_clock;
double seconds_since(clk::time_point t) {
  return std::chrono::duration<double>(clk::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// sum of n floats (n a multiple of 32), four independent AVX2 accumulators
__attribute__((target("avx2"))) float sum_avx2(const float* p, std::int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (std::int64_t i = 0; i < n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float v[8];
  _mm256_store_ps(v, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

struct Bandwidth {
  double triad_gbs, read_gbs;
};

Bandwidth measure_bandwidth(int repeats) {
  const std::int64_t n = std::int64_t{128} << 20;  // 128M floats = 512 MB per array
  std::vector<float> a(n), b(n), c(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    a[i] = 0.f;
    b[i] = 1.f;
    c[i] = 2.f;
  }
  std::vector<double> triad, read;
  for (int r = 0; r < repeats; ++r) {
    auto t = clk::now();
    const float s = 0.5f + r;
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    triad.push_back(3.0 * n * 4 / seconds_since(t) / 1e9);
    t = clk::now();
    float sum = 0;
#pragma omp parallel reduction(+ : sum)
    {
      const int th = omp_get_thread_num(), nt = omp_get_num_threads();
      const std::int64_t b = n * th / nt / 32 * 32,
                         e = th + 1 == nt ? n : n * (th + 1) / nt / 32 * 32;
      sum += sum_avx2(a.data() + b, e - b);
    }
    read.push_back(1.0 * n * 4 / seconds_since(t) / 1e9);
    if (sum == 42.f) std::cout << "";  // keep the sum alive
  }
  return {median(triad), median(read)};
}

struct GemvResult {
  std::string what;
  std::int64_t bytes;
  double us, gbs;
};

// Times y = x W^T cycling over copies of one weight (> 1 GB in all).
template <class Call>
GemvResult time_gemv(const std::string& what, std::int64_t bytes, int copies, int repeats,
                     Call&& call) {
  std::vector<double> per_call;
  for (int r = 0; r < repeats; ++r) {
    auto t = clk::now();
    for (int i = 0; i < copies; ++i) call(i);
    per_call.push_back(seconds_since(t) / copies);
  }
  const double s = median(per_call);
  return {what, bytes, s * 1e6, bytes / s / 1e9};
}

std::vector<GemvResult> bench_gemv(int repeats) {
  const std::int64_t out = 4096, in = 4096;
  Tensor W = Tensor::empty({out, in}, DType::f32);
  std::uint64_t s = 88172645463325252ull;
  for (std::int64_t i = 0; i < W.numel(); ++i) {  // xorshift: fast uniform weights
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    W.data<float>()[i] = static_cast<float>(s >> 40) / 16777216.f - 0.5f;
  }
  Tensor x = Tensor::empty({1, in}, DType::f32), y = Tensor::empty({1, out}, DType::f32);
  for (std::int64_t i = 0; i < in; ++i) x.data<float>()[i] = std::sin(0.1f * i);
  const std::int64_t kTotal = std::int64_t{1} << 30;
  std::vector<GemvResult> res;
  {  // fp16
    Tensor W16 = Tensor::empty({out, in}, DType::f16);
    for (std::int64_t i = 0; i < W.numel(); ++i)
      W16.data<std::uint16_t>()[i] = float_to_half(W.data<float>()[i]);
    const int copies = static_cast<int>(kTotal / W16.nbytes()) + 1;
    std::vector<Tensor> ws(copies);
    for (auto& w : ws) w = W16.clone();
    res.push_back(time_gemv("fp16", W16.nbytes(), copies, repeats,
                            [&](int i) { kernels::f16_linear_forward(y, x, ws[i], nullptr); }));
  }
  using kernels::QuantActivations;
  for (auto [bits, group, name] : {std::tuple<int, int, const char*>{8, 0, "int8 per-row"},
                                   {4, 0, "int4 per-row"},
                                   {4, 128, "int4 group 128"},
                                   {4, 64, "int4 group 64"}}) {
    kernels::QuantWeight q = kernels::quantize_weight(W, bits, group);
    const int copies = static_cast<int>(kTotal / q.weight_bytes()) + 1;
    std::vector<kernels::QuantWeight> ws(copies, q);
    for (auto& w : ws) {
      w.q = q.q.clone();
      w.scales = q.scales.clone();
    }
    // exact fp32 x, then x rounded to int8 per block of 32 (VNNI integer dots where present)
    for (QuantActivations act : {QuantActivations::fp32, QuantActivations::int8})
      res.push_back(time_gemv(
          fmt::format("{}, x {}", name, act == QuantActivations::fp32 ? "fp32" : "int8"),
          q.weight_bytes(), copies, repeats, [&](int i) {
            kernels::quant_linear_forward(y, x, ws[i], nullptr, kernels::QuantIsa::best, act);
          }));
  }
  return res;
}

// The date rows are measured on, UTC (YYYY-MM-DD).
std::string today() {
  char date[16];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  return date;
}

struct DecodeResult {
  std::string what;
  double tokens_per_s, weight_mb;
};

std::vector<DecodeResult> bench_decode(const std::string& config, const std::string& tokenizer,
                                       int repeats) {
  config::RunConfig rc = config::load_run_config(config);
  data::Tokenizer tok = data::Tokenizer::from_file(tokenizer);
  model::GLMModel m(rc.model, {.precision = modeldef::Precision::fp32});
  model::deepnorm_init(m.params(), 1234);
  std::vector<DecodeResult> res;
  const std::string tmp = (std::filesystem::temp_directory_path() / "bench_quant_gemv.h5").string();
  // (128 must divide the config's f; configs/small.json's 1408 = 11 x 128 does)
  for (auto [bits, group, name] : {std::tuple<int, int, const char*>{16, 0, "fp16"},
                                   {8, 0, "int8 per-row"},
                                   {4, 0, "int4 per-row"},
                                   {4, 128, "int4 group 128"}}) {
    infer::ExportOptions o;
    o.bits = bits;
    o.group_size = group;
    o.out = tmp;
    infer::write_model_file(m.params(), rc, tok, o, {"random init", 0});
    infer::Engine e(infer::load_model_file(tmp));
    std::vector<std::int32_t> prompt;
    for (int i = 0; i < 16; ++i) prompt.push_back(100 + 37 * i);
    infer::GenerateOptions g;
    g.max_new_tokens = 64;
    data::SpecialTokens sp = tok.special();
    sp.eop = -1;  // a random model may predict <eop>: time every step
    // exact fp32 activations; INT8/INT4 also with --activations int8
    using kernels::QuantActivations;
    for (QuantActivations act : {QuantActivations::fp32, QuantActivations::int8}) {
      if (bits == 16 && act == QuantActivations::int8) continue;
      e.set_activations(act);
      std::vector<double> tps;
      for (int r = 0; r < repeats; ++r) {
        infer::Generation out = infer::generate(e, sp, tok.vocab_size(), prompt, g);
        tps.push_back(out.decode_steps / out.decode_seconds);
      }
      res.push_back({fmt::format("{}{}", name, act == QuantActivations::int8 ? ", x int8" : ""),
                     median(tps), e.model().weight_bytes() / 1e6});
    }
  }
  std::filesystem::remove(tmp);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, repeats = 7;
  std::string config, tokenizer = "data_out/corpus/tokenizer.model", results;
  po::options_description desc("bench_quant_gemv: quantized GEMV bandwidth and decode speed");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("threads", po::value(&threads), "OpenMP threads (default 2)")
    ("repeats", po::value(&repeats), "runs per figure; the median is reported (default 7)")
    ("config", po::value(&config), "also time decoding on a random model of this run config")
    ("tokenizer", po::value(&tokenizer), "tokenizer.model for the decode model")
    ("results", po::value(&results), "append rows to this RESULTS.md");
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
  omp_set_num_threads(threads);
  try {
    const std::string machine = fmt::format("CPU {} threads {}", threads, cpu_isa());
    const Bandwidth bw = measure_bandwidth(repeats);
    std::cout << fmt::format("STREAM triad {:.1f} GB/s, read-only {:.1f} GB/s ({})\n", bw.triad_gbs,
                             bw.read_gbs, machine)
              << std::flush;
    std::vector<std::string> rows;
    for (const GemvResult& r : bench_gemv(repeats)) {
      std::cout << fmt::format(
                       "GEMV 4096x4096 {:<25} {:6.1f} MB  {:8.1f} us  {:6.1f} GB/s  {:5.1f}% of "
                       "triad  {:5.1f}% of read\n",
                       r.what, r.bytes / 1e6, r.us, r.gbs, 100 * r.gbs / bw.triad_gbs,
                       100 * r.gbs / bw.read_gbs)
                << std::flush;
      rows.push_back(fmt::format(
          "| GEMV batch 1, {} weights, GB/s of weight bytes | 4096x4096 | {} | {:.1f} GB/s ({:.0f} "
          "us) | "
          "{:.1f} GB/s (STREAM triad; read-only {:.1f}) | {:.0f}% | {} |",
          r.what, machine, r.gbs, r.us, bw.triad_gbs, bw.read_gbs, 100 * r.gbs / bw.triad_gbs,
          today()));
    }
    if (!config.empty()) {
      for (const DecodeResult& d : bench_decode(config, tokenizer, repeats)) {
        std::cout << fmt::format(
            "decode {} {:<23} {:7.1f} tokens/s  ({:.1f} MB of weights per token, {:.1f} GB/s)\n",
            config, d.what, d.tokens_per_s, d.weight_mb, d.tokens_per_s * d.weight_mb / 1e3);
        rows.push_back(fmt::format(
            "| decode tokens/s, batch 1, {} weights | {} (random init) | {} | {:.1f} tokens/s "
            "({:.0f} MB/token, {:.1f} GB/s) | {:.1f} GB/s (STREAM triad) | {:.0f}% | {} |",
            d.what, std::filesystem::path(config).filename().string(), machine, d.tokens_per_s,
            d.weight_mb, d.tokens_per_s * d.weight_mb / 1e3, bw.triad_gbs,
            100 * d.tokens_per_s * d.weight_mb / 1e3 / bw.triad_gbs, today()));
      }
    }
    if (!results.empty()) {
      std::ofstream out(results, std::ios::app);
      for (const auto& r : rows) out << r << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_quant_gemv: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
