// Self-contained GPU check of the CUDA kernels (no project dependencies): each kernel's raw
// launcher against a naive double-precision CPU reference written here from the math in
// kernels/*.h, the dropout mask and AdamW bit for bit, then timings of the flash attention
// and of a cuBLASLt fp16 GEMM. Prints one line per check and exits 1 if any fails.
//   check_cuda_kernels            (without a GPU: "no CUDA device present", exit 0)
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/philox.h"
#include "kernels/cuda/adamw_launch.h"
#include "kernels/cuda/attention_launch.h"
#include "kernels/cuda/layernorm_launch.h"
#include "kernels/cuda/pointwise_launch.h"

using namespace glm::kernels::cuda;

namespace {

int g_failures = 0;

#define CK(call)                                                                          \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                       \
    }                                                                                     \
  } while (0)

template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t n_) : n(n_) { CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T))); }
  Dev(const std::vector<T>& h) : Dev(h.size()) { put(h); }
  ~Dev() { cudaFree(p); }
  void put(const std::vector<T>& h) { CK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  // An fp32 buffer as the launchers that take any float storage see it.
  FloatOut out() { return f32_out(p); }
  FloatIn in() const { return f32_in(p); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

std::vector<float> rnd(size_t n, unsigned seed, float lo = -1, float hi = 1) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}

// max |got - want| / (rtol*|want| + atol*scale) <= 1
void report(const char* what, const std::vector<float>& got, const std::vector<double>& want,
            double rtol, double atol) {
  double scale = 0, worst = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  size_t wi = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double r = std::abs(got[i] - want[i]) / (rtol * std::abs(want[i]) + atol * scale + 1e-300);
    if (!(r <= worst)) worst = std::isnan(r) ? 1e300 : r, wi = i;
  }
  const bool ok = worst <= 1.0;
  if (!ok) ++g_failures;
  std::printf("%-4s %-46s worst %.3g of tolerance (element %zu: %g vs %g)\n", ok ? "PASS" : "FAIL",
              what, worst, wi, want.empty() ? 0.0 : got[wi], want.empty() ? 0.0 : want[wi]);
}

bool keep(const DropoutParams& d, int64_t row, int64_t col) {
  const auto r = static_cast<uint64_t>(row);
  const glm::philox::Block b = glm::philox::philox4x32_10(
      {static_cast<uint32_t>(col / 4), static_cast<uint32_t>(r), static_cast<uint32_t>(r >> 32) ^ d.site, d.step},
      {d.key0, d.key1});
  return glm::philox::to_uniform(b.v[col % 4]) >= d.p;
}

DropoutParams make_dropout(float p) {
  DropoutParams d;
  const glm::philox::Key k = glm::philox::make_key(4321, glm::philox::kDropout);
  d.key0 = k.k0, d.key1 = k.k1, d.site = 37, d.step = 5, d.sample_offset = 3;
  d.groups_total = 8, d.group_offset = 2, d.p = p, d.scale = 1.f / (1.f - p);
  return d;
}

void check_dropout() {
  const int64_t B = 3, G = 2, I = 5, C = 37;
  const std::vector<float> x = rnd(B * G * I * C, 1);
  Dev<float> xd(x), yd(x.size());
  const DropoutParams d = make_dropout(0.3f);
  CK(launch_dropout(yd.out(), xd.in(), B, G, I, C, d, 0));
  const std::vector<float> y = yd.get();
  int bad = 0;
  for (int64_t rr = 0; rr < B * G * I; ++rr) {
    const int64_t b = rr / (G * I), g = (rr / I) % G, i = rr % I;
    const int64_t row = ((d.sample_offset + b) * d.groups_total + d.group_offset + g) * I + i;
    for (int64_t c = 0; c < C; ++c) {
      const float want = keep(d, row, c) ? x[rr * C + c] * d.scale : 0.f;
      bad += std::memcmp(&want, &y[rr * C + c], 4) != 0;
    }
  }
  if (bad) ++g_failures;
  std::printf("%-4s %-46s %d of %lld elements differ\n", bad ? "FAIL" : "PASS",
              "dropout mask = CPU Philox mask (bitwise)", bad, (long long)x.size());
}

void check_layernorm() {
  const int64_t R = 33, h = 211;
  const auto a = rnd(R * h, 2, -3, 3), f = rnd(R * h, 3), g = rnd(h, 4), b = rnd(h, 5);
  Dev<float> ad(a), fd(f), gd(g), bd(b), s(R * h), y(R * h), m(R), r(R);
  CK(launch_layernorm_forward(y.out(), m.p, r.p, s.out(), ad.in(), 2.5f, fd.in(), gd.p, bd.p, R, h,
                              1e-5f, 0));
  std::vector<double> want(R * h);
  for (int64_t i = 0; i < R; ++i) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < h; ++j) mean += 2.5 * a[i * h + j] + f[i * h + j];
    mean /= h;
    for (int64_t j = 0; j < h; ++j) var += std::pow(2.5 * a[i * h + j] + f[i * h + j] - mean, 2);
    const double rs = 1 / std::sqrt(var / h + 1e-5);
    for (int64_t j = 0; j < h; ++j)
      want[i * h + j] = (2.5 * a[i * h + j] + f[i * h + j] - mean) * rs * g[j] + b[j];
  }
  report("residual layernorm forward", y.get(), want, 1e-5, 1e-6);
}

void check_geglu_and_ce() {
  const int64_t R = 29, f = 61, V = 777;
  const auto u = rnd(R * 2 * f, 6, -12, 12);
  Dev<float> ud(u), gd(R * f);
  CK(launch_geglu_forward(gd.out(), ud.in(), R, f, 0));
  std::vector<double> want(R * f);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < f; ++j) {
      const double x1 = u[r * 2 * f + j], z = u[r * 2 * f + f + j];
      want[r * f + j] = x1 * 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
    }
  report("geglu forward (tanh GELU)", gd.get(), want, 1e-5, 1e-6);

  auto logits = rnd(R * V, 7, -9, 9);
  std::vector<int32_t> tg(R);
  for (int64_t r = 0; r < R; ++r) tg[r] = static_cast<int32_t>((r * 131) % V);
  tg[2] = -1;
  Dev<float> ld(logits), loss(R);
  Dev<int32_t> td(tg), bad(std::vector<int32_t>{2147483647});
  CK(launch_softmax_cross_entropy(loss.p, ld.out(), td.p, R, V, 0.5f, true, bad.p, 0));
  std::vector<double> wl(R), wg(R * V);
  for (int64_t r = 0; r < R; ++r) {
    if (tg[r] < 0) continue;
    double m = -1e300, s = 0;
    for (int64_t j = 0; j < V; ++j) m = std::max(m, double(logits[r * V + j]));
    for (int64_t j = 0; j < V; ++j) s += std::exp(logits[r * V + j] - m);
    wl[r] = std::log(s) + m - logits[r * V + tg[r]];
    for (int64_t j = 0; j < V; ++j)
      wg[r * V + j] = 0.5 * (std::exp(logits[r * V + j] - m) / s - (j == tg[r] ? 1 : 0));
  }
  report("softmax cross-entropy loss", loss.get(), wl, 1e-5, 1e-6);
  report("softmax cross-entropy gradient", ld.get(), wg, 1e-5, 1e-6);
}

// Naive attention in double: forward ctx, backward dqkv (kernels/attention.h).
void attention_reference(const std::vector<float>& qkv, const std::vector<float>& dctx,
                         const std::vector<int32_t>& P, const std::vector<int32_t>& L, int64_t B,
                         int64_t T, int64_t a, int64_t d, int c, const DropoutParams* drop,
                         std::vector<double>& ctx, std::vector<double>& dqkv) {
  const double alpha = 1.0 / (std::sqrt(double(d)) * c);
  const int64_t ld = 3 * a * d;
  ctx.assign(B * T * a * d, 0.0);
  dqkv.assign(B * T * ld, 0.0);
  std::vector<double> p(T * T), pd(T * T), dp(T * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t hd = 0; hd < a; ++hd) {
      auto q = [&](int64_t t, int64_t x) { return double(qkv[(b * T + t) * ld + hd * 3 * d + x]); };
      auto k = [&](int64_t t, int64_t x) { return double(qkv[(b * T + t) * ld + hd * 3 * d + d + x]); };
      auto v = [&](int64_t t, int64_t x) { return double(qkv[(b * T + t) * ld + hd * 3 * d + 2 * d + x]); };
      auto go = [&](int64_t t, int64_t x) { return double(dctx[(b * T + t) * a * d + hd * d + x]); };
      for (int64_t i = 0; i < T; ++i) {
        const int64_t lim = std::min<int64_t>(L[b], std::max<int64_t>(P[b], i + 1));
        double m = -1e300, s = 0;
        std::vector<double> x(T);
        for (int64_t j = 0; j < lim; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += q(i, e) * k(j, e);
          x[j] = c * alpha * dot;
          m = std::max(m, x[j]);
        }
        for (int64_t j = 0; j < lim; ++j) s += std::exp(x[j] - m);
        const int64_t row = ((drop ? drop->sample_offset : 0) + b) * (drop ? drop->groups_total : 1) * T +
                            ((drop ? drop->group_offset : 0) + hd) * T + i;
        for (int64_t j = 0; j < T; ++j) {
          p[i * T + j] = j < lim ? std::exp(x[j] - m) / s : 0.0;
          const double f = drop ? (keep(*drop, row, j) ? drop->scale : 0.0) : 1.0;
          pd[i * T + j] = p[i * T + j] * f;
          double dpd = 0;
          for (int64_t e = 0; e < d; ++e) dpd += go(i, e) * v(j, e);
          dp[i * T + j] = dpd * f;
        }
        for (int64_t e = 0; e < d; ++e) {
          double o = 0;
          for (int64_t j = 0; j < T; ++j) o += pd[i * T + j] * v(j, e);
          ctx[(b * T + i) * a * d + hd * d + e] = o;
        }
        double dot = 0;
        for (int64_t j = 0; j < T; ++j) dot += dp[i * T + j] * p[i * T + j];
        for (int64_t j = 0; j < T; ++j) dp[i * T + j] = c * p[i * T + j] * (dp[i * T + j] - dot);
      }
      for (int64_t t = 0; t < T; ++t)
        for (int64_t e = 0; e < d; ++e) {
          double dq = 0, dk = 0, dv = 0;
          for (int64_t u = 0; u < T; ++u) {
            dq += dp[t * T + u] * k(u, e);
            dk += dp[u * T + t] * q(u, e);
            dv += pd[u * T + t] * go(u, e);
          }
          double* out = &dqkv[(b * T + t) * ld + hd * 3 * d];
          out[e] = alpha * dq, out[d + e] = alpha * dk, out[2 * d + e] = dv;
        }
    }
}

void check_attention(int64_t B, int64_t T, int64_t a, int64_t d, float p) {
  const auto qkv = rnd(B * T * a * 3 * d, 11 + T, -2, 2), dctx = rnd(B * T * a * d, 12);
  std::vector<int32_t> P(B), L(B);
  for (int64_t b = 0; b < B; ++b) {
    P[b] = static_cast<int32_t>(b % 4 == 0 ? T / 3 : b % 4 == 2 ? T : 0);
    L[b] = static_cast<int32_t>(b % 4 == 0 ? T - T / 4 : b % 4 == 3 ? 0 : T);
  }
  const DropoutParams drop = make_dropout(p);
  std::vector<double> wctx, wdq;
  attention_reference(qkv, dctx, P, L, B, T, a, d, 3, p > 0 ? &drop : nullptr, wctx, wdq);
  Dev<float> qd(qkv), dcd(dctx), ctx(B * T * a * d), lse(B * a * T), rowdot(B * a * T), dq(qkv.size());
  Dev<int32_t> Pd(P), Ld(L);
  FlashParams fp;
  fp.qkv = qd.in(), fp.ctx = ctx.out(), fp.lse = lse.p, fp.dctx = dcd.in(), fp.rowdot = rowdot.p;
  fp.dqkv = dq.out();
  fp.prefix_len = Pd.p, fp.valid_len = Ld.p, fp.B = B, fp.T = T, fp.a = a, fp.d = d;
  fp.c = 3.f, fp.alpha = 1.f / (std::sqrt(float(d)) * 3.f), fp.dropout = p > 0, fp.drop = drop;
  CK(launch_attention_flash_forward(fp, 0));
  CK(launch_attention_flash_backward(fp, 0));
  char what[96];
  std::snprintf(what, sizeof what, "flash attention fwd B%lld T%lld a%lld d%lld p%.1f", (long long)B,
                (long long)T, (long long)a, (long long)d, p);
  // fp32 against fp64 over T keys: see tests/unit/test_ops_attention.cpp (kAttn).
  report(what, ctx.get(), wctx, 1e-4, 1e-5);
  what[16] = 'b', what[17] = 'w', what[18] = 'd';
  report(what, dq.get(), wdq, 1e-4, 1e-5);
}

void check_adamw() {
  const int64_t n = 200003;
  auto p = rnd(n, 21), g = rnd(n, 22, -30, 30), m = rnd(n, 23, -0.1f, 0.1f), v = rnd(n, 24, 0, 0.01f);
  std::vector<AdamWChunk> chunks;
  for (int64_t b = 0; b < n; b += kAdamWChunk) chunks.push_back({b, std::min(n, b + kAdamWChunk), int32_t(b / kAdamWChunk % 2)});
  Dev<float> pd(p), gd(g), md(m), vd(v);
  Dev<AdamWChunk> cd(chunks);
  const double lr = 1e-3, b1 = 0.9, b2 = 0.95;
  const AdamWStepConstants c{float(b1), float(1 - b1), float(b2), float(1 - b2),
                             float(lr / (1 - std::pow(b1, 3))), float(1 / std::sqrt(1 - std::pow(b2, 3))),
                             1e-8f, float(1 - lr * 0.1), 1.f / 128};
  CK(launch_adamw(pd.p, md.p, vd.p, gd.p, FloatOut{nullptr, FloatKind::f32}, cd.p,
                  int64_t(chunks.size()), c, 0));
  const auto P = pd.get();
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    volatile float gi = g[i] * c.inv_scale, m1 = c.beta1 * m[i], m2 = c.one_minus_beta1 * gi, mi = m1 + m2;
    volatile float gg = gi * gi, v1 = c.beta2 * v[i], v2 = c.one_minus_beta2 * gg, vi = v1 + v2;
    volatile float sq = std::sqrt(float(vi)), d1 = sq * c.inv_sqrt_bias2, den = d1 + c.eps;
    volatile float ratio = mi / den, upd = c.step_size * ratio;
    volatile float kept = p[i] * ((i / kAdamWChunk) % 2 ? c.decay_keep : 1.f);
    const float want = kept - upd;
    bad += std::memcmp(&want, &P[i], 4) != 0;
  }
  if (bad) ++g_failures;
  std::printf("%-4s %-46s %d of %lld elements differ\n", bad ? "FAIL" : "PASS",
              "AdamW = fp32 reference (bitwise)", bad, (long long)n);
}

float time_ms(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

void time_flash_attention() {
  const int64_t B = 4, T = 2048, a = 16, d = 128;
  Dev<float> q(rnd(B * T * a * 3 * d, 31)), ctx(B * T * a * d), lse(B * a * T), rowdot(B * a * T),
      dq(B * T * a * 3 * d), dc(rnd(B * T * a * d, 32));
  Dev<int32_t> P(std::vector<int32_t>(B, T / 3)), L(std::vector<int32_t>(B, T));
  FlashParams fp;
  fp.qkv = q.in(), fp.ctx = ctx.out(), fp.lse = lse.p, fp.dctx = dc.in(), fp.rowdot = rowdot.p;
  fp.dqkv = dq.out();
  fp.prefix_len = P.p, fp.valid_len = L.p, fp.B = B, fp.T = T, fp.a = a, fp.d = d;
  fp.c = 1.f, fp.alpha = 1.f / std::sqrt(float(d)), fp.dropout = true, fp.drop = make_dropout(0.1f);
  cudaEvent_t e0, e1, e2;
  CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1)); CK(cudaEventCreate(&e2));
  CK(launch_attention_flash_forward(fp, 0));
  CK(cudaEventRecord(e0));
  CK(launch_attention_flash_forward(fp, 0));
  CK(cudaEventRecord(e1));
  CK(launch_attention_flash_backward(fp, 0));
  CK(cudaEventRecord(e2));
  CK(cudaEventSynchronize(e2));
  // Useful FLOPs with the [gMASK] mask ~ half of the full square: report the full-square
  // count 4*B*a*T*T*d (forward) as docs/design.md section 10 counts attention.
  const double flop = 4.0 * B * a * T * T * d;
  std::printf("TIME flash attention B4 T2048 a16 d128 p0.1: fwd %.2f ms (%.1f TFLOP/s full-square), bwd %.2f ms\n",
              time_ms(e0, e1), flop / time_ms(e0, e1) / 1e9, time_ms(e1, e2));
}

void time_cublaslt_fp16_gemm() {
  const int64_t M = 8192, N = 8192, K = 8192;
  void *A, *B, *C, *ws;
  CK(cudaMalloc(&A, M * K * 2)); CK(cudaMalloc(&B, K * N * 2)); CK(cudaMalloc(&C, M * N * 2));
  CK(cudaMemset(A, 0, M * K * 2)); CK(cudaMemset(B, 0, K * N * 2));
  const size_t wsb = 32 << 20;
  CK(cudaMalloc(&ws, wsb));
  cublasLtHandle_t h;
  cublasLtCreate(&h);
  cublasLtMatmulDesc_t desc;
  cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasLtMatrixLayout_t la, lb, lc;
  cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, M, K, M);
  cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, K, N, K);
  cublasLtMatrixLayoutCreate(&lc, CUDA_R_16F, M, N, M);
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate(&pref);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof(wsb));
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, lc, lc, pref, 1, &res, &found);
  if (!found) {
    ++g_failures;
    std::printf("FAIL cuBLASLt found no fp16 algorithm\n");
    return;
  }
  const float one = 1, zero = 0;
  auto run = [&] { return cublasLtMatmul(h, desc, &one, A, la, B, lb, &zero, C, lc, C, lc, &res.algo, ws, wsb, 0); };
  for (int i = 0; i < 3; ++i) run();
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  const int iters = 20;
  CK(cudaEventRecord(e0));
  for (int i = 0; i < iters; ++i) run();
  CK(cudaEventRecord(e1));
  CK(cudaEventSynchronize(e1));
  const double ms = time_ms(e0, e1) / iters;
  std::printf("TIME cuBLASLt fp16 GEMM 8192^3 (fp32 accumulate): %.3f ms, %.1f TFLOP/s\n", ms,
              2.0 * M * N * K / ms / 1e9);
  cublasLtDestroy(h);
  cudaFree(A), cudaFree(B), cudaFree(C), cudaFree(ws);
}

}  // namespace

int main() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("check_cuda_kernels: no CUDA device present: checks not run\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  check_dropout();
  check_layernorm();
  check_geglu_and_ce();
  check_attention(4, 13, 2, 6, 0.f);
  check_attention(4, 150, 2, 40, 0.2f);
  check_attention(2, 70, 1, 128, 0.1f);
  check_attention(2, 37, 1, 200, 0.f);
  check_adamw();
  time_flash_attention();
  time_cublaslt_fp16_gemm();
  std::printf("%s: %d check(s) failed\n", g_failures ? "FAILED" : "ALL PASSED", g_failures);
  return g_failures ? 1 : 0;
}
