// Benchmark of the CUDA weight-only INT4/INT8 kernels (kernels/cuda/quant_gemm.h):
//   1. batch-1 GEMV int4 / int8 / fp16 (ours) and cuBLAS fp16 at 12288x32768 and 4096x4096:
//      GB/s of weight bytes read, against a device-to-device copy measured in the same run
//      and the datasheet figure (2 * memory clock * bus width);
//   2. n = 1..64: int4 / int8 against a cuBLAS fp16 GEMM (fp32 compute), times and ratios.
// Times are medians of --reps repetitions timed with CUDA events. Weight sets are rotated so
// the working set exceeds 3x the L2 cache (a 4096x4096 int4 matrix alone would sit in L2).
// Prints a markdown table (and writes it to --out FILE). Without a GPU: prints
// "no CUDA device present: skipped" and exits 0.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/convert.h"
#include "kernels/cuda/device_description.h"
#include "kernels/cuda/quant_gemm.h"
#include "core/cuda_device.h"

namespace {

using namespace glm;
namespace kc = glm::kernels::cuda;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {}: {}", what, cudaGetErrorString(e)));
}
void cublas_ok(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(fmt::format("cuBLAS {}: status {}", what, static_cast<int>(s)));
}

struct EventPair {
  cudaEvent_t a = nullptr, b = nullptr;
  EventPair() {
    cuda_ok(cudaEventCreate(&a), "event");
    cuda_ok(cudaEventCreate(&b), "event");
  }
  ~EventPair() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
};

struct Cublas {
  cublasHandle_t h = nullptr;
  Cublas() { cublas_ok(cublasCreate(&h), "create"); }
  ~Cublas() { cublasDestroy(h); }
};

// Median time of one call in microseconds; call(i) runs repetition i.
double median_us(int reps, const std::function<void(int)>& call) {
  for (int i = 0; i < 3; ++i) call(i);  // warm-up (cuBLAS heuristics, smem attributes)
  cuda_ok(cudaDeviceSynchronize(), "warm-up");
  EventPair ev;
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    cuda_ok(cudaEventRecord(ev.a, nullptr), "record");
    call(i);
    cuda_ok(cudaEventRecord(ev.b, nullptr), "record");
    cuda_ok(cudaEventSynchronize(ev.b), "sync");
    float ms = 0;
    cuda_ok(cudaEventElapsedTime(&ms, ev.a, ev.b), "elapsed");
    t.push_back(1e3 * ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// One problem's weights in every format, `copies` times (rotated against L2 reuse).
struct WeightSet {
  std::vector<Tensor> f16;
  std::vector<kernels::QuantWeight> int4, int8;
};

kernels::QuantWeight device_quantized(const Tensor& w16, int bits, std::int64_t group) {
  kernels::QuantWeight Q;
  Q.bits = bits, Q.out = w16.size(0), Q.in = w16.size(1), Q.group = group;
  Q.q = bits == 8 ? Tensor::empty({Q.out, Q.in}, DType::i8, Device::cuda())
                  : Tensor::empty({Q.out, Q.in / 2}, DType::u8, Device::cuda());
  Q.scales = Tensor::empty({Q.out, Q.in / group}, DType::f16, Device::cuda());
  kc::quantize_weight(Q, w16);
  return Q;
}

WeightSet make_weights(std::int64_t out, std::int64_t in, std::int64_t group, int copies) {
  WeightSet s;
  Tensor host = Tensor::empty({out, in}, DType::f16);
  std::uint32_t state = 12345;
  for (int c = 0; c < copies; ++c) {
    auto* p = host.data<std::uint16_t>();
    for (std::int64_t i = 0; i < out * in; ++i) {
      state = state * 1664525u + 1013904223u;  // LCG: uniform in [-0.05, 0.05)
      p[i] = float_to_half((static_cast<float>(state >> 8) / 16777216.f - 0.5f) * 0.1f);
    }
    Tensor w16 = host.to(Device::cuda());
    s.int4.push_back(device_quantized(w16, 4, group));
    s.int8.push_back(device_quantized(w16, 8, group));
    s.f16.push_back(std::move(w16));
  }
  return s;
}

Tensor random_x(std::int64_t n, std::int64_t in) {
  Tensor h = Tensor::empty({n, in}, DType::f16);
  std::uint32_t state = 777;
  for (std::int64_t i = 0; i < n * in; ++i) {
    state = state * 1664525u + 1013904223u;
    h.data<std::uint16_t>()[i] = float_to_half(static_cast<float>(state >> 8) / 16777216.f - 0.5f);
  }
  return h.to(Device::cuda());
}

// y [n, out] = x [n, in] W^T in fp16 with fp32 compute (cuBLAS column-major: y^T = W x^T).
void cublas_f16(const Cublas& cb, Tensor& y, const Tensor& x, const Tensor& w) {
  const int n = static_cast<int>(x.size(0)), in = static_cast<int>(x.size(1)), out = static_cast<int>(w.size(0));
  const float alpha = 1.f, beta = 0.f;
  cublas_ok(cublasGemmEx(cb.h, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, w.raw(), CUDA_R_16F, in,
                         x.raw(), CUDA_R_16F, in, &beta, y.raw(), CUDA_R_16F, out,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            "GemmEx");
}

const char* path_name(kc::QuantGemmPath p) {
  switch (p) {
    case kc::QuantGemmPath::gemv: return "gemv";
    case kc::QuantGemmPath::mma: return "mma";
    case kc::QuantGemmPath::generic: return "generic";
  }
  return "?";
}

int run(int reps, const std::string& out_file) {
  if (cuda_device_count() == 0) {
    std::cout << "bench_cuda_quant: no CUDA device present: skipped\n";
    return 0;
  }
  cuda_ok(cudaSetDevice(0), "set device");
  int clock_khz = 0, bus_bits = 0, l2 = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0);
  const double datasheet_gbs = 2.0 * clock_khz * 1e3 * bus_bits / 8 / 1e9;

  std::string md = fmt::format("## CUDA weight-only INT4/INT8 kernels: {}\n\n", kc::device_description(0));
  // Device-to-device copy: each byte is read once and written once.
  double copy_gbs = 0;
  {
    const std::size_t bytes = std::size_t{1} << 30;
    Tensor a = Tensor::empty({static_cast<std::int64_t>(bytes)}, DType::u8, Device::cuda());
    Tensor b = Tensor::empty({static_cast<std::int64_t>(bytes)}, DType::u8, Device::cuda());
    const double us = median_us(reps, [&](int) {
      cuda_ok(cudaMemcpyAsync(b.raw(), a.raw(), bytes, cudaMemcpyDeviceToDevice, nullptr), "copy");
    });
    copy_gbs = 2.0 * bytes / (us * 1e3);
  }
  md += fmt::format("HBM reference: device-to-device copy {:.0f} GB/s (read + write, 1 GiB, median of {}); "
                    "datasheet {} (memory clock {} kHz x {}-bit bus x 2); L2 {} MiB.\n\n",
                    copy_gbs, reps,
                    clock_khz > 0 ? fmt::format("{:.0f} GB/s", datasheet_gbs) : std::string("not reported"),
                    clock_khz, bus_bits, l2 >> 20);

  Cublas cb;
  struct Shape {
    std::int64_t out, in, group;
  };
  const Shape shapes[] = {{12288, 32768, 128}, {4096, 4096, 128}};
  std::string gemv_md =
      "### Batch-1 GEMV (weight bytes read per call, G = 128 scales included)\n\n"
      "| W [out, in] | weights | MB read | time us | GB/s | % of copy | % of datasheet | path |\n"
      "|---|---|---:|---:|---:|---:|---:|---|\n";
  std::string batch_md =
      "### Small batch: y[n, out] = x[n, in] W^T against cuBLAS fp16 GEMM (fp32 compute)\n\n"
      "| W [out, in] | n | int4 us | int8 us | cuBLAS fp16 us | cuBLAS/int4 | cuBLAS/int8 | int4 path |\n"
      "|---|---:|---:|---:|---:|---:|---:|---|\n";
  std::string check_md;

  for (const Shape& sh : shapes) {
    const double f16_bytes = 2.0 * sh.out * sh.in;
    const int copies = static_cast<int>(std::clamp<double>(std::ceil(3.0 * l2 / (f16_bytes / 4)), 1, 32));
    std::cerr << fmt::format("preparing {}x{} ({} weight copies)\n", sh.out, sh.in, copies);
    WeightSet ws = make_weights(sh.out, sh.in, sh.group, copies);
    const std::string name = fmt::format("{}x{}", sh.out, sh.in);

    // 1. GEMV
    Tensor x1 = random_x(1, sh.in), y1 = Tensor::empty({1, sh.out}, DType::f16, Device::cuda());
    auto gemv_row = [&](const char* what, double bytes, const std::function<void(int)>& call,
                        const char* path) {
      const double us = median_us(reps, call), gbs = bytes / (us * 1e3);
      gemv_md += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.0f} | {:.0f}% | {} | {} |\n", name, what,
                             bytes / 1e6, us, gbs, 100 * gbs / copy_gbs,
                             clock_khz > 0 ? fmt::format("{:.0f}%", 100 * gbs / datasheet_gbs) : "-",
                             path);
    };
    const auto& q4 = ws.int4[0];
    const auto& q8 = ws.int8[0];
    const double b4 = q4.q.nbytes() + q4.scales.nbytes(), b8 = q8.q.nbytes() + q8.scales.nbytes();
    auto plan_path = [&](std::int64_t n, int bits) {
      return path_name(kc::quant_gemm_plan({n, sh.out, sh.in, bits == 16 ? sh.in : sh.group, bits, true}).path);
    };
    gemv_row("int4", b4, [&](int i) { kernels::quant_linear_forward(y1, x1, ws.int4[i % copies], nullptr); },
             plan_path(1, 4));
    gemv_row("int8", b8, [&](int i) { kernels::quant_linear_forward(y1, x1, ws.int8[i % copies], nullptr); },
             plan_path(1, 8));
    gemv_row("fp16 (ours)", f16_bytes,
             [&](int i) { kernels::f16_linear_forward(y1, x1, ws.f16[i % copies], nullptr); }, plan_path(1, 16));
    gemv_row("fp16 cuBLAS", f16_bytes, [&](int i) { cublas_f16(cb, y1, x1, ws.f16[i % copies]); },
             "cublasGemmEx");

    // 2. small batch
    for (std::int64_t n : {1, 2, 4, 8, 16, 32, 64}) {
      Tensor x = random_x(n, sh.in), y = Tensor::empty({n, sh.out}, DType::f16, Device::cuda());
      const double t4 = median_us(reps, [&](int i) { kernels::quant_linear_forward(y, x, ws.int4[i % copies], nullptr); });
      const double t8 = median_us(reps, [&](int i) { kernels::quant_linear_forward(y, x, ws.int8[i % copies], nullptr); });
      const double tc = median_us(reps, [&](int i) { cublas_f16(cb, y, x, ws.f16[i % copies]); });
      batch_md += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.2f}x | {:.2f}x | {} |\n", name, n,
                              t4, t8, tc, tc / t4, tc / t8, plan_path(n, 4));
    }

    // Sanity: int8 and int4 results against cuBLAS on the unquantized fp16 weights (n = 16).
    {
      const std::int64_t n = 16;
      Tensor x = random_x(n, sh.in);
      Tensor yc = Tensor::empty({n, sh.out}, DType::f16, Device::cuda());
      Tensor yq = Tensor::empty({n, sh.out}, DType::f32, Device::cuda());
      cublas_f16(cb, yc, x, ws.f16[0]);
      Tensor ycf = Tensor::empty({n, sh.out}, DType::f32, Device::cuda());
      glm::kernels::f16_to_f32(ycf, yc);
      Tensor ref = ycf.to(Device::cpu());
      for (int bits : {8, 4}) {
        kernels::quant_linear_forward(yq, x, bits == 8 ? ws.int8[0] : ws.int4[0], nullptr);
        Tensor got = yq.to(Device::cpu());
        double max_ref = 0, max_diff = 0;
        for (std::int64_t i = 0; i < n * sh.out; ++i) {
          max_ref = std::max(max_ref, std::fabs(double(ref.data<float>()[i])));
          max_diff = std::max(max_diff, std::fabs(double(got.data<float>()[i]) - ref.data<float>()[i]));
        }
        check_md += fmt::format("- {} int{} n = {}: max |y_quant - y_fp16| / max |y_fp16| = {:.4f}\n", name,
                                bits, n, max_diff / max_ref);
      }
    }
  }
  md += gemv_md + "\n" + batch_md + "\nQuantization error against the fp16 weights (a sanity check, "
        "not a tolerance; uniform random weights, G = 128):\n\n" + check_md;
  std::cout << md;
  if (!out_file.empty()) {
    std::ofstream f(out_file);
    if (!f) throw Error(fmt::format("cannot write {}", out_file));
    f << md;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  po::options_description opts("bench_cuda_quant options");
  opts.add_options()("help", "this message")("reps", po::value<int>()->default_value(30),
                                             "timed repetitions per measurement (median reported)")(
      "out", po::value<std::string>()->default_value(""), "also write the markdown table to this file");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    return run(std::max(1, vm["reps"].as<int>()), vm["out"].as<std::string>());
  } catch (const po::error& e) {
    std::cerr << "bench_cuda_quant: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_cuda_quant: " << e.what() << "\n";
    return 1;
  }
}
