// What the CPU can do: the vector ISA the kernels dispatch to, and the FMA peak that MFU
// is measured against (docs/design.md section 10).
#pragma once

#include <string>

namespace glm {

// "avx512" | "avx2" | "scalar": the best level the run-time dispatch will pick here.
std::string cpu_isa();
// The fp32 FMA peak of `threads` threads: the fastest thread's FLOPs per second of its own
// CPU time in a tight FMA loop (best of 5, about 0.2 s), times `threads`. Timed by CPU time,
// not wall time, so a machine whose cores are shared or busy does not lower it: no kernel
// can run more FLOPs in a second than its threads have CPU-seconds at this rate, which makes
// it an upper bound for MFU, loaded or quiet, with one rank or several per machine.
double measure_fma_peak_flops(int threads);

}  // namespace glm
