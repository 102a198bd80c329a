// GEMM throughput on the GPU: cuBLASLt fp16 x fp16 -> fp16 with fp32 accumulation (with and
// without the bias epilogue), the same in bf16 (the linear of a bf16 run), and cuBLAS fp32
// SGEMM, on GLM-shaped problems (tokens x hidden
// x hidden, the QKV and MLP projections of a 1.3B model at h = 2048 and of GLM-130B's
// h = 12288 slice). Prints one line per shape: ms per call and TFLOP/s (2*M*N*K / time).
//   bench_cuda_gemm [--iters N]
// Without a GPU: prints "no CUDA device present: benchmark not run" and exits 0.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_stream.h"
#include "core/cuda_device.h"

namespace {

using namespace glm;
namespace kc = glm::kernels::cuda;

struct Shape3 {
  const char* what;
  std::int64_t M, N, K;
};

double time_ms(int iters, const std::function<void()>& fn) {
  kc::Event start(true), stop(true);
  for (int i = 0; i < 3; ++i) fn();  // warm-up (heuristics, clocks)
  start.record(kc::current_stream());
  for (int i = 0; i < iters; ++i) fn();
  stop.record(kc::current_stream());
  stop.synchronize();
  return stop.ms_since(start) / iters;
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 50;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::atoi(argv[i + 1]);
  if (cuda_device_count() == 0) {
    std::printf("bench_cuda_gemm: no CUDA device present: benchmark not run\n");
    return 0;
  }
  try {
    const std::vector<Shape3> shapes = {
        {"1.3B qkv   [8192 x 2048] x [2048 x 6144]", 8192, 6144, 2048},
        {"1.3B mlp1  [8192 x 2048] x [2048 x 10880]", 8192, 10880, 2048},
        {"130B qkv/8 [4096 x 12288] x [12288 x 4608]", 4096, 4608, 12288},
        {"square 8192", 8192, 8192, 8192},
    };
    std::printf("%-44s %9s %9s %9s %9s %9s\n", "shape (M x K) x (K x N)", "f16 ms", "f16 TF/s",
                "+bias TF", "bf16 TF/s", "f32 TF/s");
    for (const Shape3& s : shapes) {
      Tensor A = Tensor::zeros({s.M, s.K}, DType::f16, Device::cuda());
      Tensor B = Tensor::zeros({s.N, s.K}, DType::f16, Device::cuda());
      Tensor C = Tensor::zeros({s.M, s.N}, DType::f16, Device::cuda());
      Tensor bias = Tensor::zeros({s.N}, DType::f16, Device::cuda());
      kc::LtGemmArgs g;
      g.trans_b = kernels::Trans::T;  // y = x W^T, W stored [out, in]
      g.M = s.M;
      g.N = s.N;
      g.K = s.K;
      g.A = A.raw();
      g.lda = s.K;
      g.B = B.raw();
      g.ldb = s.K;
      g.C = C.raw();
      g.ldc = s.N;
      const double flop = 2.0 * s.M * s.N * s.K;
      const double ms16 = time_ms(iters, [&] { kc::gemm_lt(g); });
      g.bias = bias.raw();
      const double ms16b = time_ms(iters, [&] { kc::gemm_lt(g); });
      Tensor Abf = Tensor::zeros({s.M, s.K}, DType::bf16, Device::cuda());
      Tensor Bbf = Tensor::zeros({s.N, s.K}, DType::bf16, Device::cuda());
      Tensor Cbf = Tensor::zeros({s.M, s.N}, DType::bf16, Device::cuda());
      kc::LtGemmArgs h = g;
      h.ab_type = h.c_type = DType::bf16;
      h.A = Abf.raw();
      h.B = Bbf.raw();
      h.C = Cbf.raw();
      h.bias = nullptr;
      const double msbf = time_ms(iters, [&] { kc::gemm_lt(h); });
      Tensor A32 = Tensor::zeros({s.M, s.K}, DType::f32, Device::cuda());
      Tensor B32 = Tensor::zeros({s.N, s.K}, DType::f32, Device::cuda());
      Tensor C32 = Tensor::zeros({s.M, s.N}, DType::f32, Device::cuda());
      kernels::GemmArgs f;
      f.trans_b = kernels::Trans::T;
      f.M = s.M;
      f.N = s.N;
      f.K = s.K;
      f.A = A32.data<float>();
      f.lda = s.K;
      f.B = B32.data<float>();
      f.ldb = s.K;
      f.C = C32.data<float>();
      f.ldc = s.N;
      const double ms32 = time_ms(std::max(1, iters / 5), [&] { kc::gemm_f32(f); });
      std::printf("%-44s %9.3f %9.1f %9.1f %9.1f %9.1f\n", s.what, ms16, flop / ms16 / 1e9,
                  flop / ms16b / 1e9, flop / msbf / 1e9, flop / ms32 / 1e9);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_gemm: %s\n", e.what());
    return 1;
  }
  return 0;
}
