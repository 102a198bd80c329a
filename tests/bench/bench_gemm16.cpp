// Our 16-bit GEMM (kernels::gemm16, what the training step calls) against oneDNN's own matmul
// at the same shapes, in the same run: the small model's linear products (configs "small":
// B=8, T=256 so R=2048 rows, h=512, f=1344, V=32000) on bf16 and f16 operands with fp32
// accumulation. Three rows per shape and type:
//   ours      kernels::gemm16 on plain row-major operands, as the step calls it (primitive
//             cache lookup, memory objects and a stream per call);
//   onednn    one prebuilt oneDNN matmul primitive on the same plain operands, executed in
//             the loop with nothing else: oneDNN's rate without our wrapper;
//   blocked   the same with the weights in the layout oneDNN prefers (format any), reordered
//             once outside the loop: what reordering the weights once per step could reach.
//             Only for products whose B is a weight (forward and dx); dW's B is an activation.
// The figure that matters is ours / onednn (target 80% or more). Run:
//   OMP_NUM_THREADS=2 build/bin/bench_gemm16 --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "kernels/gemm.h"
#include "tests/bench/gemm_shapes.h"

namespace {

using glm::DType;
using glm::kernels::Gemm16Args;
using glm::kernels::Gemm16Path;
using glm::kernels::Trans;
using dt = dnnl::memory::data_type;

using Shape = glm::bench::GemmShape;

enum class Variant { ours, onednn, blocked };
const char* variant_name(Variant v) {
  return v == Variant::ours ? "ours" : v == Variant::onednn ? "onednn" : "blocked";
}

std::vector<std::uint16_t> random_16(std::size_t n, DType t, unsigned seed) {
  std::vector<std::uint16_t> v(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (auto& x : v) x = glm::float_to_16(d(rng), t == DType::bf16);
  return v;
}

dnnl::memory::desc plain(std::int64_t rows, std::int64_t cols, dt type, Trans trans,
                         std::int64_t ld) {
  return dnnl::memory::desc({rows, cols}, type,
                            trans == Trans::N ? dnnl::memory::dims{ld, 1}
                                              : dnnl::memory::dims{1, ld});
}

void run(benchmark::State& state, Variant variant, DType type, const Shape& s) {
  const std::int64_t lda = s.ta == Trans::N ? s.K : s.M, ldb = s.tb == Trans::N ? s.N : s.K;
  auto A = random_16(static_cast<std::size_t>(s.M * s.K), type, 1);
  auto B = random_16(static_cast<std::size_t>(s.K * s.N), type, 2);
  std::vector<float> C(static_cast<std::size_t>(s.M * s.N), 0.f);
  const double flops = 2.0 * s.M * s.N * s.K;

  if (variant == Variant::ours) {
    Gemm16Args g;
    g.trans_a = s.ta;
    g.trans_b = s.tb;
    g.M = s.M;
    g.N = s.N;
    g.K = s.K;
    g.type = type;
    g.A = A.data();
    g.lda = lda;
    g.B = B.data();
    g.ldb = ldb;
    g.C = C.data();
    g.ldc = s.N;
    glm::kernels::gemm16(g);  // warm-up: builds and caches the primitive
    for (auto _ : state) {
      glm::kernels::gemm16(g);
      benchmark::ClobberMemory();
    }
  } else {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(eng);
    const dt t = type == DType::bf16 ? dt::bf16 : dt::f16;
    const auto a_md = plain(s.M, s.K, t, s.ta, lda);
    const auto b_plain = plain(s.K, s.N, t, s.tb, ldb);
    const auto b_md = variant == Variant::blocked
                          ? dnnl::memory::desc({s.K, s.N}, t, dnnl::memory::format_tag::any)
                          : b_plain;
    const auto c_md = plain(s.M, s.N, dt::f32, Trans::N, s.N);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), eng);
    dnnl::matmul mm(pd);
    dnnl::memory a(a_md, eng, A.data()), c(c_md, eng, C.data());
    dnnl::memory b_user(b_plain, eng, B.data());
    dnnl::memory b = b_user;
    if (pd.weights_desc() != b_plain) {
      b = dnnl::memory(pd.weights_desc(), eng);
      dnnl::reorder(b_user, b).execute(stream, b_user, b);
      stream.wait();
    }
    const std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
    mm.execute(stream, args);
    stream.wait();
    state.SetLabel(pd.impl_info_str());
    for (auto _ : state) {
      mm.execute(stream, args);
      stream.wait();
      benchmark::ClobberMemory();
    }
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (DType type : {DType::bf16, DType::f16}) {
    // Where oneDNN has no 16-bit kernel (f16 on a CPU without AVX512-FP16), there is no
    // native rate to compare with: gemm16 takes its fp32 path.
    if (glm::kernels::gemm16_path(type) != Gemm16Path::native) continue;
    for (const Shape& s : glm::bench::small_linear_shapes())
      for (Variant v : {Variant::ours, Variant::onednn, Variant::blocked}) {
        if (v == Variant::blocked && !s.b_is_weight) continue;
        const std::string name = "gemm16/" + std::string(glm::dtype_name(type)) + "/" + s.name +
                                 "/M" + std::to_string(s.M) + "_N" + std::to_string(s.N) + "_K" +
                                 std::to_string(s.K) + "/" + variant_name(v);
        benchmark::RegisterBenchmark(name.c_str(),
                                     [v, type, s](benchmark::State& st) { run(st, v, type, s); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
