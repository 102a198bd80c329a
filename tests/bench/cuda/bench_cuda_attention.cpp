// Flash attention against the unfused cuBLAS path on the GPU: forward and backward time of
// each, and their agreement (max |difference| / max |value| of ctx and dqkv), with the GLM
// mask ([gMASK]-like prefix, padding) and dropout on. Shapes: the 1.3B config's layer
// (B 4, T 2048, a 16, d 128) and a short-sequence one.
//   bench_cuda_attention [--iters N]
// Without a GPU: prints "no CUDA device present: benchmark not run" and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

#include "core/tensor.h"
#include "kernels/cuda/cuda_attention.h"
#include "kernels/cuda/cuda_stream.h"
#include "core/cuda_device.h"

namespace {

using namespace glm;
namespace k = glm::kernels;
namespace kc = glm::kernels::cuda;

double time_ms(int iters, const std::function<void()>& fn) {
  kc::Event start(true), stop(true);
  fn();
  start.record(kc::current_stream());
  for (int i = 0; i < iters; ++i) fn();
  stop.record(kc::current_stream());
  stop.synchronize();
  return stop.ms_since(start) / iters;
}

Tensor random_device(const Shape& s, unsigned seed) {
  Tensor h = Tensor::empty(s, DType::f32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (std::int64_t i = 0; i < h.numel(); ++i) h.data<float>()[i] = u(rng);
  return h.to(Device::cuda());
}

double rel_diff(const Tensor& a, const Tensor& b) {
  Tensor x = a.to(Device::cpu()), y = b.to(Device::cpu());
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    diff = std::max(diff, std::abs(double(x.data<float>()[i]) - y.data<float>()[i]));
    scale = std::max(scale, std::abs(double(y.data<float>()[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 5;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::atoi(argv[i + 1]);
  if (cuda_device_count() == 0) {
    std::printf("bench_cuda_attention: no CUDA device present: benchmark not run\n");
    return 0;
  }
  try {
    struct Case {
      std::int64_t B, T, a, d;
    };
    std::printf("%-26s %10s %10s %10s %10s %11s %11s\n", "B T a d", "flash fwd", "unf fwd",
                "flash bwd", "unf bwd", "ctx diff", "dqkv diff");
    for (const Case c : {Case{4, 2048, 16, 128}, Case{8, 512, 16, 128}, Case{4, 1024, 8, 64}}) {
      const auto [B, T, a, d] = c;
      k::AttentionArgs args;
      args.heads = static_cast<int>(a);
      args.head_dim = static_cast<int>(d);
      args.layer_number = 5;
      args.dropout_p = 0.1f;
      args.dropout.seed = 7;
      args.dropout.groups_total = a;
      std::vector<std::int32_t> P(B), L(B);
      for (std::int64_t b = 0; b < B; ++b) {
        P[b] = static_cast<std::int32_t>(T / 3 + b);
        L[b] = static_cast<std::int32_t>(T - 7 * b);
      }
      Tensor Ph = Tensor::empty({B}, DType::i32), Lh = Tensor::empty({B}, DType::i32);
      std::copy(P.begin(), P.end(), Ph.data<std::int32_t>());
      std::copy(L.begin(), L.end(), Lh.data<std::int32_t>());
      const k::AttentionMask mask{Ph.to(Device::cuda()), Lh.to(Device::cuda())};
      Tensor qkv = random_device({B, T, a, 3, d}, 1), dctx = random_device({B, T, a * d}, 2);
      Tensor ctx_f = Tensor::empty({B, T, a * d}, DType::f32, Device::cuda());
      Tensor ctx_u = Tensor::empty({B, T, a * d}, DType::f32, Device::cuda());
      Tensor lse = Tensor::empty({B, a, T}, DType::f32, Device::cuda());
      Tensor rowdot = Tensor::empty({B, a, T}, DType::f32, Device::cuda());
      Tensor probs = Tensor::empty({B, a, T, T}, DType::f32, Device::cuda());
      Tensor scratch = Tensor::empty({B, a, T, T}, DType::f32, Device::cuda());
      Tensor dq_f = Tensor::empty(qkv.shape(), DType::f32, Device::cuda());
      Tensor dq_u = Tensor::empty(qkv.shape(), DType::f32, Device::cuda());
      const double ff = time_ms(iters, [&] { kc::attention_forward_flash(ctx_f, lse, qkv, mask, args); });
      const double uf = time_ms(iters, [&] { kc::attention_forward_unfused(ctx_u, probs, qkv, mask, args); });
      const double fb = time_ms(iters, [&] {
        kc::attention_backward_flash(dq_f, rowdot, dctx, lse, qkv, mask, args);
      });
      const double ub = time_ms(iters, [&] {
        kc::attention_backward_unfused(dq_u, scratch, dctx, probs, qkv, mask, args);
      });
      char label[64];
      std::snprintf(label, sizeof(label), "%lld %lld %lld %lld", (long long)B, (long long)T,
                    (long long)a, (long long)d);
      std::printf("%-26s %8.2fms %8.2fms %8.2fms %8.2fms %11.2e %11.2e\n", label, ff, uf, fb, ub,
                  rel_diff(ctx_f, ctx_u), rel_diff(dq_f, dq_u));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_attention: %s\n", e.what());
    return 1;
  }
  return 0;
}
