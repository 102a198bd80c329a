// What the CPU can do: the vector ISA the kernels dispatch to, and the FMA peak that MFU
// is measured against (DESIGN.md section 10).
#pragma once

#include <string>

namespace glm {

// "avx512" | "avx2" | "scalar": the best level the run-time dispatch will pick here.
std::string cpu_isa();
// fp32 FLOP/s of a tight FMA loop on `threads` threads (about 0.2 s of measurement).
double measure_fma_peak_flops(int threads);

}  // namespace glm
