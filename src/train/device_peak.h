// The peak arithmetic rate MFU is measured against, per training device (docs/design.md 5b).
//   CPU:  the fp32 FMA peak measured at start-up per CPU-second (core/cpu_info.h), per
//         process: every precision's GEMMs run in fp32 on the CPU.
//   CUDA: the card's dense datasheet peak for the run's precision: tensor-core fp16 in fp16
//         mode (the products run on tensor cores), fp32 CUDA cores in fp32 mode (no TF32).
// Unknown cards give 0 (MFU is then not reported); GLM_PEAK_TFLOPS overrides either.
#pragma once

#include <string>

#include "core/dtype.h"

namespace glm::train {

// The peak this rank's MFU is against on `dev`: its card's datasheet peak for the precision,
// or the CPU FMA peak measured now over the OpenMP threads; GLM_PEAK_TFLOPS overrides either.
// `basis` says which, for the start-up line.
struct PeakFlops {
  double flops = 0;  // per rank
  std::string basis;
};
PeakFlops rank_peak_flops(Device dev, bool fp16);

// The device for the start-up line: "CUDA device 0 (NVIDIA H100 ...)" or
// "CPU, 8 threads, avx512".
std::string describe_training_device(Device dev);

// Dense peak FLOP/s of a CUDA card by its name ("NVIDIA H100 80GB HBM3"); 0 when unknown.
double cuda_peak_flops(const std::string& device_name, bool fp16);

// GLM_PEAK_TFLOPS (a positive number of TFLOP/s) when set, else `fallback`. Throws
// InputError naming the variable for a malformed value.
double peak_flops_override(double fallback);

}  // namespace glm::train
