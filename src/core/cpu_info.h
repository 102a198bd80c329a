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

// Whether the CPU has the AVX512-BF16 dot product (vdpbf16ps) that bf16 GEMMs run on.
bool cpu_has_avx512_bf16();
// The same measure for vdpbf16ps (two bf16 products added into each fp32 lane: 4 FLOPs a
// lane): the peak of a bf16 GEMM on a CPU without AMX. 0 without AVX512-BF16.
double measure_bf16_dot_peak_flops(int threads);

}  // namespace glm
