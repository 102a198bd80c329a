// GEMM backends on the small model's shapes (configs "small": B=8, T=256 so R=2048 rows,
// h=512, 3h=1536, f=1344, 2f=2688, V=32000): oneDNN against OpenBLAS, forward (x W^T, "NT")
// and the two backward products (dx = dy W, "NN"; dW = dy^T x, "TN"), plus the per-head
// attention products. Reports GFLOP/s; docs/design.md section 10 says why the default backend
// is chosen by this measurement. Run: OMP_NUM_THREADS=2 build/bin/bench_gemm
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "tests/bench/gemm_shapes.h"

namespace {

using glm::kernels::GemmArgs;
using glm::kernels::GemmBackend;
using glm::kernels::Trans;

using Shape = glm::bench::GemmShape;

std::vector<float> random_buffer(std::size_t n, unsigned seed) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (auto& x : v) x = d(rng);
  return v;
}

void run(benchmark::State& state, GemmBackend backend, const Shape& s) {
  // Dense operands, one batch entry after the other.
  const std::int64_t lda = s.ta == Trans::N ? s.K : s.M, ldb = s.tb == Trans::N ? s.N : s.K;
  auto A = random_buffer(static_cast<std::size_t>(s.M * s.K * s.batch), 1);
  auto B = random_buffer(static_cast<std::size_t>(s.K * s.N * s.batch), 2);
  std::vector<float> C(static_cast<std::size_t>(s.M * s.N * s.batch), 0.f);
  GemmArgs g;
  g.trans_a = s.ta;
  g.trans_b = s.tb;
  g.M = s.M;
  g.N = s.N;
  g.K = s.K;
  g.A = A.data();
  g.lda = lda;
  g.B = B.data();
  g.ldb = ldb;
  g.C = C.data();
  g.ldc = s.N;
  g.batch = s.batch;
  g.stride_a = s.M * s.K;
  g.stride_b = s.K * s.N;
  g.stride_c = s.M * s.N;
  glm::kernels::gemm(g, backend);  // warm-up: oneDNN JIT, OpenBLAS thread start
  for (auto _ : state) {
    glm::kernels::gemm(g, backend);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * s.M * s.N * s.K * s.batch;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<Shape> model_shapes() {
  std::vector<Shape> out = glm::bench::small_linear_shapes();
  for (const Shape& s : glm::bench::small_attention_shapes()) out.push_back(s);
  return out;
}

const bool registered = [] {
  for (const Shape& s : model_shapes())
    for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas}) {
      const std::string name = "gemm/" + s.name + "/M" + std::to_string(s.M) + "_N" +
                               std::to_string(s.N) + "_K" + std::to_string(s.K) +
                               (s.batch > 1 ? "_b" + std::to_string(s.batch) : "") + "/" +
                               std::string(glm::kernels::gemm_backend_name(be));
      benchmark::RegisterBenchmark(name.c_str(), [be, s](benchmark::State& st) { run(st, be, s); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
