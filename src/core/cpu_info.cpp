#include "core/cpu_info.h"

#include <chrono>

#include <omp.h>

namespace glm {

std::string cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  return "scalar";
}

namespace {
// 16 independent accumulators of 16 lanes hide the FMA latency; the compiler emits one
// vfmadd per statement for the clone matching the CPU.
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) float fma_loop(long iters,
                                                                              float seed) {
  constexpr int kAcc = 16 * 16;
  float acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = seed + i * 1e-7f;
  const float a = 0.999999f, b = 1e-7f;
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = acc[i] * a + b;
  }
  float s = 0;
  for (int i = 0; i < kAcc; ++i) s += acc[i];
  return s;
}
}  // namespace

double measure_fma_peak_flops(int threads) {
  const long iters = 200000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_loop(iters, static_cast<float>(omp_get_thread_num()));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile float keep = sink;
    (void)keep;
    best = std::max(best, 2.0 * 256 * iters * threads / s);
  }
  return best;
}

}  // namespace glm
