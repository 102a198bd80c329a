#include "train/device_peak.h"

#include <omp.h>

#include <cstdlib>

#include "core/cpu_info.h"
#include "core/error.h"
#include "core/gpu_datasheet.h"
#include "kernels/gemm.h"
#include "core/cuda_device.h"

namespace glm::train {

double cuda_peak_flops(const std::string& name, bool fp16) {
  const GpuDatasheet* card = find_gpu_datasheet(name);
  if (!card) return 0.0;
  return 1e12 * (fp16 ? card->tflops_16bit : card->tflops_fp32);
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

namespace {

// The CPU's peak for the GEMMs the run's precision runs (kernels/gemm.h): the fp32 FMA peak
// unless 16-bit GEMMs run natively, then the rate of the instruction they run on.
PeakFlops cpu_peak_flops(modeldef::Precision precision) {
  const int threads = omp_get_max_threads();
  const double fp32 = measure_fma_peak_flops(threads);
  const std::string per = fmt::format("{} thread{}", threads, threads == 1 ? "" : "s");
  if (precision != modeldef::Precision::fp32) {
    const DType t = precision == modeldef::Precision::bf16 ? DType::bf16 : DType::f16;
    if (kernels::gemm16_path(t) == kernels::Gemm16Path::native) {
      const std::string impl = kernels::gemm16_implementation(t);
      if (impl.find("amx") != std::string::npos)  // a tile multiply: 1024 FLOPs a cycle
        return {16 * fp32, fmt::format("AMX {} tiles, 16x the fp32 FMA peak at the same clock "
                                       "({}: {}, {:.1f} GFLOP/s each in fp32)",
                                       dtype_name(t), impl, per, fp32 / threads / 1e9)};
      if (t == DType::bf16) {
        const double bf16 = measure_bf16_dot_peak_flops(threads);
        return {bf16, fmt::format("bf16 dot product (vdpbf16ps) measured per CPU-second: {} x "
                                  "{:.1f} GFLOP/s ({})",
                                  per, bf16 / threads / 1e9, impl)};
      }
      return {2 * fp32, fmt::format("AVX512-FP16, twice the fp32 FMA lanes ({}: {}, {:.1f} "
                                    "GFLOP/s each in fp32)",
                                    impl, per, fp32 / threads / 1e9)};
    }
  }
  return {fp32, fmt::format("fp32 FMA ({}) measured per CPU-second: {} x {:.1f} GFLOP/s (the "
                            "GEMMs of this precision run in fp32 here)",
                            cpu_isa(), per, fp32 / threads / 1e9)};
}

}  // namespace

PeakFlops rank_peak_flops(Device dev, modeldef::Precision precision) {
  PeakFlops p;
  if (dev.is_cuda()) {
    const bool fp16 = precision == modeldef::Precision::fp16;
    p.flops = cuda_peak_flops(cuda_device_name(dev.index), fp16);
    p.basis = p.flops > 0 ? fmt::format("the datasheet's dense {}", fp16 ? "fp16 tensor-core peak"
                                                                         : "fp32 peak, no TF32")
                          : "an unknown card (set GLM_PEAK_TFLOPS for MFU)";
  } else {
    p = cpu_peak_flops(precision);
  }
  const double given = peak_flops_override(p.flops);
  if (given != p.flops) p = {given, "GLM_PEAK_TFLOPS"};
  return p;
}

std::string describe_gemms(Device dev, modeldef::Precision precision) {
  if (dev.is_cuda())
    return precision == modeldef::Precision::fp16 ? "cuBLAS, fp16 operands on tensor cores"
                                                  : "cuBLAS SGEMM (fp32 operands, no TF32)";
  if (precision == modeldef::Precision::fp32)
    return fmt::format("fp32 gemm ({})", kernels::gemm_backend_name(kernels::gemm_backend()));
  const DType t = precision == modeldef::Precision::bf16 ? DType::bf16 : DType::f16;
  return fmt::format("{} operands: {}", dtype_name(t), kernels::gemm16_implementation(t));
}

std::string describe_training_device(Device dev) {
  return dev.is_cuda() ? fmt::format("CUDA device {} ({})", dev.index, cuda_device_name(dev.index))
                       : fmt::format("CPU, {} threads, {}", omp_get_max_threads(), cpu_isa());
}

}  // namespace glm::train
