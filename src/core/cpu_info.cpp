#include "core/cpu_info.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include <omp.h>

namespace glm {

std::string cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  return "scalar";
}

namespace {
// Twelve independent accumulator registers hide the 4-cycle FMA latency on both FMA ports;
// explicit intrinsics keep them in registers (an array would round-trip through memory).
__attribute__((target("avx512f"))) float fma_loop_avx512(long iters, float seed) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(seed + i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(long iters, float seed) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(seed + i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

// The bf16 dot-product instruction (AVX512-BF16): each vdpbf16ps adds two products of bf16
// pairs into each of 16 fp32 lanes, 64 FLOPs, the instruction oneDNN's bf16 GEMM runs on.
__attribute__((target("avx512f,avx512bf16"))) float bf16_dot_loop(long iters, float seed) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(seed + i);
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

float fma_loop_scalar(long iters, float seed) {
  float acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = seed + i;
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
  return acc[0] + acc[11];
}

// FLOPs of one fma_loop call per iteration: 12 registers x lanes x 2.
int lanes() {
  std::string isa = cpu_isa();
  return isa == "avx512" ? 16 : isa == "avx2" ? 8 : 1;
}

float fma_loop(long iters, float seed) {
  std::string isa = cpu_isa();
  if (isa == "avx512") return fma_loop_avx512(iters, seed);
  if (isa == "avx2") return fma_loop_avx2(iters, seed);
  return fma_loop_scalar(iters, seed);
}
}  // namespace

namespace {
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

namespace {
// The fastest thread's FLOPs per CPU-second of `loop` (flops_per_iter per iteration), best of
// 5 reps on each of `threads` threads, times `threads`.
double measure_peak(int threads, double flops_per_iter, float (*loop)(long, float)) {
  const long iters = 10000000;  // ~40 ms a rep: long enough for the clock to ramp up
  const double flops_per_rep = flops_per_iter * static_cast<double>(iters);
  double best = 0;  // FLOPs per CPU-second of the fastest thread
#pragma omp parallel num_threads(threads) reduction(max : best)
  for (int rep = 0; rep < 5; ++rep) {
    // The empty asm statements pin the loop between the two clock reads: without them the
    // compiler may move the pure computation before the first or after the second.
    const double t0 = thread_cpu_seconds();
    float seed = static_cast<float>(omp_get_thread_num() + rep);
    asm volatile("" : "+x"(seed));
    float result = loop(iters, seed);
    asm volatile("" : "+x"(result));
    const double s = thread_cpu_seconds() - t0;
    if (s > 0) best = std::max(best, flops_per_rep / s);
  }
  return best * threads;
}
}  // namespace

double measure_fma_peak_flops(int threads) {
  return measure_peak(threads, 2.0 * 12 * lanes(), fma_loop);
}

bool cpu_has_avx512_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

double measure_bf16_dot_peak_flops(int threads) {
  if (!cpu_has_avx512_bf16()) return 0;
  return measure_peak(threads, 4.0 * 12 * 16, bf16_dot_loop);
}

}  // namespace glm
