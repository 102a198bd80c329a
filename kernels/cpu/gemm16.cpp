// The 16-bit GEMM on the CPU (kernels/gemm.h): oneDNN's matmul primitive on bf16 / f16
// operands with fp32 accumulation, or the fp32 path where oneDNN has no 16-bit kernel for
// the type on this CPU (or GLM_GEMM16=fp32 forces it).
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/row16.h"
#include "kernels/gemm.h"

namespace glm::kernels {
namespace {

using dt = dnnl::memory::data_type;

dt dnnl_type(DType t) {
  switch (t) {
    case DType::f32:
      return dt::f32;
    case DType::bf16:
      return dt::bf16;
    case DType::f16:
      return dt::f16;
    default:
      throw Error(fmt::format("gemm16: no oneDNN type for {}", dtype_name(t)));
  }
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Operand descriptors with the caller's strides: a transposed operand is the stored matrix
// read by columns, which oneDNN's brgemm kernels take without a copy.
// A batch of such matrices `stride` elements apart is one 3-D descriptor.
dnnl::memory::desc matrix(std::int64_t rows, std::int64_t cols, DType t, Trans trans,
                          std::int64_t ld, std::int64_t batch = 1, std::int64_t stride = 0) {
  const dnnl::memory::dims strides =
      trans == Trans::N ? dnnl::memory::dims{ld, 1} : dnnl::memory::dims{1, ld};
  if (batch == 1) return dnnl::memory::desc({rows, cols}, dnnl_type(t), strides);
  return dnnl::memory::desc({batch, rows, cols}, dnnl_type(t),
                            dnnl::memory::dims{stride, strides[0], strides[1]});
}

dnnl::memory::desc a_desc(const Gemm16Args& g) {
  return matrix(g.M, g.K, g.type, g.trans_a, g.lda, g.batch, g.stride_a);
}
dnnl::memory::desc b_desc(const Gemm16Args& g) {
  return matrix(g.K, g.N, g.type, g.trans_b, g.ldb, g.batch, g.stride_b);
}
dnnl::memory::desc c_desc(const Gemm16Args& g) {
  return matrix(g.M, g.N, g.c_type, Trans::N, g.ldc, g.batch, g.stride_c);
}

dnnl::matmul::primitive_desc describe(const Gemm16Args& g) {
  const auto a = a_desc(g), b = b_desc(g), c = c_desc(g);
  dnnl::primitive_attr attr;
  if (g.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.f);
    attr.set_post_ops(ops);
  }
  if (g.bias) {
    const dnnl::memory::desc bias({1, g.N}, dt::f32, dnnl::memory::dims{g.N, 1});
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, bias, c), attr, cpu_engine());
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, cpu_engine());
}

// A primitive per shape, layout, type and thread count (oneDNN splits the work when it
// builds the primitive): building one costs ~0.1 ms, a step reuses a few dozen.
using Key = std::array<std::int64_t, 17>;
Key key_of(const Gemm16Args& g) {
  return {g.batch,
          g.stride_a,
          g.stride_b,
          g.stride_c,
          g.M,
          g.N,
          g.K,
          g.lda,
          g.ldb,
          g.ldc,
          static_cast<std::int64_t>(g.trans_a),
          static_cast<std::int64_t>(g.trans_b),
          static_cast<std::int64_t>(g.type),
          static_cast<std::int64_t>(g.c_type),
          g.accumulate ? 1 : 0,
          g.bias ? 1 : 0,
          omp_get_max_threads()};
}

// A handle (reference-counted by oneDNN), so a concurrent clear cannot free it under a caller.
dnnl::matmul primitive_for(const Gemm16Args& g) {
  static std::mutex mu;
  static std::map<Key, dnnl::matmul> cache;
  const Key key = key_of(g);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) {
    // A run uses a few dozen shapes; a caller that varies its rows without end (a growing
    // sequence) must not grow the cache without end.
    if (cache.size() >= 4096) cache.clear();
    it = cache.emplace(key, dnnl::matmul(describe(g))).first;
  }
  return it->second;
}

void gemm16_native(const Gemm16Args& g) {
  try {
    dnnl::matmul mm = primitive_for(g);
    dnnl::engine& eng = cpu_engine();
    dnnl::stream stream(eng);
    dnnl::memory a(a_desc(g), eng, const_cast<void*>(g.A));
    dnnl::memory b(b_desc(g), eng, const_cast<void*>(g.B));
    dnnl::memory c(c_desc(g), eng, g.C);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
    if (g.bias)
      args.emplace(DNNL_ARG_BIAS,
                   dnnl::memory(dnnl::memory::desc({1, g.N}, dt::f32, dnnl::memory::dims{g.N, 1}),
                                eng, const_cast<float*>(g.bias)));
    mm.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error(fmt::format("gemm16: oneDNN matmul failed ({}, status {}) for {} M={} N={} K={} "
                            "lda={} ldb={} ldc={}",
                            e.what(), static_cast<int>(e.status), dtype_name(g.type), g.M, g.N,
                            g.K, g.lda, g.ldb, g.ldc));
  }
}

// fp32 scratch left uninitialised: every element is written before it is read, and the
// first touch of its pages happens in the threads that fill it, not serially here.
std::unique_ptr<float[]> scratch(std::int64_t n) {
  return std::unique_ptr<float[]>(
      new float[static_cast<std::size_t>(std::max<std::int64_t>(n, 1))]);
}

// One stored matrix (rows x cols, row stride ld) of 16-bit values as packed fp32.
std::unique_ptr<float[]> widen(const void* p, DType t, std::int64_t rows, std::int64_t cols,
                               std::int64_t ld) {
  std::unique_ptr<float[]> out = scratch(rows * cols);
#pragma omp parallel for schedule(static) if (rows * cols >= cpu::kParallelMin)
  for (std::int64_t r = 0; r < rows; ++r) cpu::load_row(out.get() + r * cols, p, t, r * ld, cols);
  return out;
}

void gemm16_fp32(const Gemm16Args& g) {
  const bool ta = g.trans_a == Trans::T, tb = g.trans_b == Trans::T;
  const std::int64_t a_rows = ta ? g.K : g.M, a_cols = ta ? g.M : g.K;
  const std::int64_t b_rows = tb ? g.N : g.K, b_cols = tb ? g.K : g.N;
  const std::unique_ptr<float[]> A = widen(g.A, g.type, a_rows, a_cols, g.lda);
  const std::unique_ptr<float[]> B = widen(g.B, g.type, b_rows, b_cols, g.ldb);

  const bool wide_c = g.c_type != DType::f32;
  const bool parallel = g.M * g.N >= cpu::kParallelMin;
  std::unique_ptr<float[]> c_copy;
  float* C = static_cast<float*>(g.C);
  std::int64_t ldc = g.ldc;
  if (wide_c) {  // without accumulate the GEMM (beta 0) or the bias below writes every element
    c_copy = g.accumulate ? widen(g.C, g.c_type, g.M, g.N, g.ldc) : scratch(g.M * g.N);
    C = c_copy.get();
    ldc = g.N;
  }
  if (g.bias) {
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t i = 0; i < g.M; ++i)
      for (std::int64_t j = 0; j < g.N; ++j)
        C[i * ldc + j] = (g.accumulate ? C[i * ldc + j] : 0.f) + g.bias[j];
  }
  GemmArgs f;
  f.trans_a = g.trans_a;
  f.trans_b = g.trans_b;
  f.M = g.M;
  f.N = g.N;
  f.K = g.K;
  f.beta = g.accumulate || g.bias ? 1.f : 0.f;
  f.A = A.get();
  f.lda = std::max<std::int64_t>(a_cols, 1);
  f.B = B.get();
  f.ldb = std::max<std::int64_t>(b_cols, 1);
  f.C = C;
  f.ldc = ldc;
  gemm(f);
  if (wide_c) {
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t i = 0; i < g.M; ++i) cpu::store_row(g.C, g.c_type, i * g.ldc, C + i * ldc, g.N);
  }
}

std::atomic<bool> g_force_fp32{false};

bool forced_by_env() {
  static const bool forced = [] {
    const char* env = std::getenv("GLM_GEMM16");
    if (env == nullptr || *env == '\0' || std::string_view(env) == "native") return false;
    if (std::string_view(env) == "fp32") return true;
    throw InputError(fmt::format(
        "unknown 16-bit GEMM path '{}' (GLM_GEMM16): expected native or fp32", env));
  }();
  return forced;
}

// oneDNN's choice for a 16-bit matmul of a typical shape on this CPU, or "" when it has
// none; "ref:..." is its scalar reference loop, slower than widening to fp32.
std::string onednn_choice(DType type) {
  try {
    Gemm16Args g;
    g.M = g.N = g.K = g.lda = g.ldb = g.ldc = 256;
    g.type = type;
    g.c_type = DType::f32;
    return describe(g).impl_info_str();
  } catch (const dnnl::error&) {
    return "";
  }
}

const std::string& onednn_choice_cached(DType type) {
  static const std::string bf16 = onednn_choice(DType::bf16);
  static const std::string f16 = onednn_choice(DType::f16);
  return type == DType::bf16 ? bf16 : f16;
}

bool has_native(DType type) {
  const std::string& choice = onednn_choice_cached(type);
  return !choice.empty() && choice.rfind("ref", 0) != 0;
}

}  // namespace

void set_gemm16_force_fp32(bool force) { g_force_fp32.store(force); }

Gemm16Path gemm16_path(DType type) {
  GLM_CHECK(type == DType::bf16 || type == DType::f16, "gemm16: operands must be bf16 or f16, not {}",
            dtype_name(type));
  if (g_force_fp32.load() || forced_by_env() || !has_native(type)) return Gemm16Path::fp32;
  return Gemm16Path::native;
}

std::string gemm16_implementation(DType type) {
  if (gemm16_path(type) == Gemm16Path::native)
    return fmt::format("oneDNN matmul {}", onednn_choice_cached(type));
  if (g_force_fp32.load() || forced_by_env()) return "fp32 gemm (forced: GLM_GEMM16=fp32)";
  const std::string& choice = onednn_choice_cached(type);
  return fmt::format("fp32 gemm (oneDNN has no {} kernel for this CPU{})", dtype_name(type),
                     choice.empty() ? "" : ", only " + choice);
}

void gemm16(const Gemm16Args& g) {
  require_gemm_dims("gemm16", g.trans_a, g.trans_b, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch,
                    g.A, g.B, g.C);
  GLM_CHECK(g.c_type == DType::f32 || g.c_type == g.type,
            "gemm16: C is {}, expected f32 or the operands' {}", dtype_name(g.c_type),
            dtype_name(g.type));
  GLM_CHECK(g.batch == 1 || (!g.bias && g.stride_a >= 0 && g.stride_b >= 0 && g.stride_c > 0),
            "gemm16: a batch of {} needs strides (a {} b {} c {}) and no bias", g.batch,
            g.stride_a, g.stride_b, g.stride_c);
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  if (g.K == 0 || gemm16_path(g.type) == Gemm16Path::fp32) {
    // the fp32 path one matrix at a time
    const std::size_t eb = dtype_bytes(g.type, 1), ec = dtype_bytes(g.c_type, 1);
    for (std::int64_t b = 0; b < g.batch; ++b) {
      Gemm16Args one = g;
      one.batch = 1;
      one.A = static_cast<const char*>(g.A) + static_cast<std::size_t>(b * g.stride_a) * eb;
      one.B = static_cast<const char*>(g.B) + static_cast<std::size_t>(b * g.stride_b) * eb;
      one.C = static_cast<char*>(g.C) + static_cast<std::size_t>(b * g.stride_c) * ec;
      gemm16_fp32(one);
    }
    return;
  }
  gemm16_native(g);
}

}  // namespace glm::kernels
