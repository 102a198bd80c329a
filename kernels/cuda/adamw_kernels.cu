// Fused AdamW kernel, then its launcher. One block per chunk of at most 64K elements with
// one weight-decay decision (chunk table built on the host from the parameter layout).
// Every operation is an explicitly rounded fp32 intrinsic (__fmul_rn, __fadd_rn, __fsqrt_rn,
// __fdiv_rn): nvcc may not contract them into FMAs, so each element is computed by exactly
// the operations of optim/adamw.cpp (compiled there with -ffp-contract=off), in the same
// order: the GPU update is bit-identical to the CPU's.
#include <cuda_runtime.h>

#include "kernels/cuda/adamw_launch.h"
#include "kernels/cuda/float_kind.cuh"

namespace glm::kernels::cuda {
namespace {

__global__ void adamw_block_per_chunk(float* __restrict__ p, float* __restrict__ m,
                                      float* __restrict__ v, const float* __restrict__ grad,
                                      FloatOut rounded, const AdamWChunk* __restrict__ chunks,
                                      AdamWStepConstants c) {
  const AdamWChunk ch = chunks[blockIdx.x];
  const float keep = ch.decay ? c.decay_keep : 1.f;
  for (std::int64_t i = ch.begin + threadIdx.x; i < ch.end; i += blockDim.x) {
    // g = grad*inv_scale; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g
    // p = p*keep - step_size * m / (sqrt(v)*inv_sqrt_bias2 + eps)
    const float g = __fmul_rn(grad[i], c.inv_scale);
    const float mi = __fadd_rn(__fmul_rn(c.beta1, m[i]), __fmul_rn(c.one_minus_beta1, g));
    const float vi =
        __fadd_rn(__fmul_rn(c.beta2, v[i]), __fmul_rn(c.one_minus_beta2, __fmul_rn(g, g)));
    m[i] = mi;
    v[i] = vi;
    const float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), c.inv_sqrt_bias2), c.eps);
    const float pi =
        __fsub_rn(__fmul_rn(p[i], keep), __fmul_rn(c.step_size, __fdiv_rn(mi, denom)));
    p[i] = pi;
    if (rounded.p) store(rounded, i, pi);  // the 16-bit parameter
  }
}

}  // namespace

cudaError_t launch_adamw(float* p, float* m, float* v, const float* grad, FloatOut rounded,
                         const AdamWChunk* chunks, std::int64_t num_chunks,
                         const AdamWStepConstants& c, cudaStream_t s) {
  if (num_chunks == 0) return cudaSuccess;
  if (num_chunks > 2147483647) return cudaErrorInvalidValue;
  adamw_block_per_chunk<<<static_cast<unsigned>(num_chunks), 512, 0, s>>>(p, m, v, grad, rounded,
                                                                          chunks, c);
  return cudaGetLastError();
}

}  // namespace glm::kernels::cuda
