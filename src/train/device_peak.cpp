#include "train/device_peak.h"

#include <omp.h>

#include <cstdlib>
#include <string_view>

#include "core/allocator.h"
#include "core/cpu_info.h"
#include "core/error.h"

namespace glm::train {

double cuda_peak_flops(const std::string& name, bool fp16) {
  // NVIDIA datasheets, dense (no sparsity), TFLOP/s: {fp16 tensor core, fp32}.
  struct Card {
    std::string_view match;
    double fp16, fp32;
  };
  // More specific names first: "H100 PCIe" before "H100".
  static constexpr Card kCards[] = {
      {"H100 PCIe", 756.0, 51.2}, {"H100 NVL", 835.0, 60.0}, {"H100", 989.4, 66.9},
      {"H200", 989.4, 66.9},      {"H800", 989.4, 66.9},     {"A100", 312.0, 19.5},
      {"A800", 312.0, 19.5},      {"L40S", 362.0, 91.6},     {"A10", 125.0, 31.2},
  };
  for (const Card& c : kCards)
    if (name.find(c.match) != std::string::npos) return 1e12 * (fp16 ? c.fp16 : c.fp32);
  return 0.0;
}

double peak_flops_override(double fallback) {
  const char* v = std::getenv("GLM_PEAK_TFLOPS");
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double t = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(t > 0))
    throw InputError(fmt::format("GLM_PEAK_TFLOPS='{}': expected a positive number of TFLOP/s", v));
  return t * 1e12;
}

PeakFlops rank_peak_flops(Device dev, bool fp16) {
  PeakFlops p;
  if (dev.is_cuda()) {
    p.flops = cuda_peak_flops(cuda_device_name(dev.index), fp16);
    p.basis = p.flops > 0 ? fmt::format("the datasheet's dense {}", fp16 ? "fp16 tensor-core peak"
                                                                         : "fp32 peak, no TF32")
                          : "an unknown card (set GLM_PEAK_TFLOPS for MFU)";
  } else {
    const int threads = omp_get_max_threads();
    p.flops = measure_fma_peak_flops(threads);
    p.basis = fmt::format(
        "fp32 FMA ({}) measured per CPU-second: {} thread{} x {:.1f} GFLOP/s (the CPU runs "
        "every precision's GEMMs in fp32)",
        cpu_isa(), threads, threads == 1 ? "" : "s", p.flops / threads / 1e9);
  }
  const double given = peak_flops_override(p.flops);
  if (given != p.flops) p = {given, "GLM_PEAK_TFLOPS"};
  return p;
}

std::string describe_training_device(Device dev) {
  return dev.is_cuda() ? fmt::format("CUDA device {} ({})", dev.index, cuda_device_name(dev.index))
                       : fmt::format("CPU, {} threads, {}", omp_get_max_threads(), cpu_isa());
}

}  // namespace glm::train
