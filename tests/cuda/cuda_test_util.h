// Helpers of the CUDA tests: the skip without a GPU, random host tensors (tests/test_util.h),
// device copies, and a comparison that reports the worst element. Each test runs the CPU
// code (the reference, itself tested against naive loops and finite differences in
// tests/unit) and the CUDA code on the same inputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/allocator.h"
#include "tests/gpu_skip.h"
#include "core/tensor.h"
#include "tests/test_util.h"

namespace glm::cudatest {

using test::i32_tensor;
using test::random_tensor;

inline Tensor dev(const Tensor& t) { return t.to(Device::cuda()); }
inline Tensor host(const Tensor& t) { return t.to(Device::cpu()); }

// |gpu - cpu| <= rtol * |cpu| + atol * max|cpu| for every element (NaN fails).
inline ::testing::AssertionResult close(const Tensor& gpu_on_host, const Tensor& cpu, double rtol,
                                        double atol) {
  if (gpu_on_host.numel() != cpu.numel())
    return ::testing::AssertionFailure() << "sizes " << gpu_on_host.numel() << " vs " << cpu.numel();
  const float* g = gpu_on_host.data<float>();
  const float* c = cpu.data<float>();
  double scale = 0;
  for (std::int64_t i = 0; i < cpu.numel(); ++i) scale = std::max(scale, std::abs(double(c[i])));
  for (std::int64_t i = 0; i < cpu.numel(); ++i) {
    const double err = std::abs(double(g[i]) - c[i]), tol = rtol * std::abs(double(c[i])) + atol * scale;
    if (!(err <= tol))
      return ::testing::AssertionFailure() << "element " << i << ": gpu " << g[i] << ", cpu " << c[i]
                                           << " (scale " << scale << ", rtol " << rtol << ", atol "
                                           << atol << ")";
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult bit_equal(const Tensor& a, const Tensor& b) {
  if (a.nbytes() != b.nbytes()) return ::testing::AssertionFailure() << "sizes differ";
  const auto* x = static_cast<const unsigned char*>(a.raw());
  const auto* y = static_cast<const unsigned char*>(b.raw());
  for (std::size_t i = 0; i < a.nbytes(); i += 4)  // the last word of 16-bit data may be 2 bytes
    if (std::memcmp(x + i, y + i, std::min<std::size_t>(4, a.nbytes() - i)) != 0)
      return ::testing::AssertionFailure() << "word " << i / 4 << " differs";
  return ::testing::AssertionSuccess();
}

// fp32 tolerances, GPU vs CPU. Both compute in fp32 with different summation orders (warp
// trees vs sequential SIMD lanes, cuBLAS vs oneDNN blocking) and different libm (CUDA expf /
// sincosf / powf within 2 ulp vs the CPU's polynomial exp within 2 ulp): for reductions over
// n <= ~1000 terms the relative error bound is ~n * 2^-24 ~ 6e-5 worst case, typically
// sqrt(n) * 2^-24 ~ 2e-6; 2e-5 relative with a 2e-6 floor of the tensor's scale catches any
// wrong term (an O(1) error) with margin.
constexpr double kF32Rtol = 2e-5, kF32Atol = 2e-6;
// fp16 GEMMs (fp16 inputs rounded identically on both sides, fp32 accumulation, fp16 output):
// the output rounding alone is 2^-11 ~ 4.9e-4 relative; accumulation-order differences in
// fp32 are far below. 1e-3 relative and 1e-3 of the scale.
constexpr double kF16Rtol = 1e-3, kF16Atol = 1e-3;

}  // namespace glm::cudatest
