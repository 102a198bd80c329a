// The peak arithmetic rate MFU is measured against, per training device (docs/design.md 5b).
//   CPU:  measured at start-up per CPU-second (core/cpu_info.h), per process, for the
//         instruction the run's GEMMs use: fp32 FMA, or with native 16-bit GEMMs
//         (kernels/gemm.h) the bf16 dot product, AMX tiles (16x fp32) or AVX512-FP16 (2x).
//   CUDA: the card's dense datasheet peak for the run's precision: tensor-core fp16 in fp16
//         mode (the products run on tensor cores), fp32 CUDA cores in fp32 mode (no TF32).
// Unknown cards give 0 (MFU is then not reported); GLM_PEAK_TFLOPS overrides either.
#pragma once

#include <string>

#include "core/dtype.h"
#include "modeldef/precision.h"

namespace glm::train {

// The peak this rank's MFU is against on `dev`: its card's datasheet peak for the precision,
// or the CPU FMA peak measured now over the OpenMP threads; GLM_PEAK_TFLOPS overrides either.
// `basis` says which, for the start-up line.
struct PeakFlops {
  double flops = 0;  // per rank
  std::string basis;
};
PeakFlops rank_peak_flops(Device dev, modeldef::Precision precision);

// The device for the start-up line: "CUDA device 0 (NVIDIA H100 ...)" or
// "CPU, 8 threads, avx512".
std::string describe_training_device(Device dev);

// What runs the run's GEMMs: "bf16 operands: oneDNN matmul brg:avx512_core_bf16",
// "fp32 gemm (onednn)", ... (kernels/gemm.h).
std::string describe_gemms(Device dev, modeldef::Precision precision);

// Dense peak FLOP/s of a CUDA card by its name ("NVIDIA H100 80GB HBM3"; the table of
// core/gpu_datasheet.h); 0 when unknown.
double cuda_peak_flops(const std::string& device_name, bool fp16);

// GLM_PEAK_TFLOPS (a positive number of TFLOP/s) when set, else `fallback`. Throws
// InputError naming the variable for a malformed value.
double peak_flops_override(double fallback);

}  // namespace glm::train
