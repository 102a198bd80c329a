// CUDA conversion kernels against the CPU reference (core/half.h). Without a GPU every
// test here skips with a visible reason; with one they must match bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/allocator.h"
#include "tests/gpu_skip.h"
#include "core/half.h"
#include "kernels/convert.h"

namespace glm {
namespace {

TEST(CudaConvert, AllHalfPatternsMatchCpuReference) {
  SKIP_WITHOUT_GPU();
  Tensor h = Tensor::empty({65536}, DType::f16);
  for (int i = 0; i < 65536; ++i) h.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(i);
  Tensor hd = h.to(Device::cuda()), fd = Tensor::empty({65536}, DType::f32, Device::cuda());
  kernels::f16_to_f32(fd, hd);
  Tensor f = fd.to(Device::cpu());
  for (int i = 0; i < 65536; ++i) {
    float want = half_to_float(static_cast<std::uint16_t>(i)), got = f.data<float>()[i];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << i;
    } else {
      EXPECT_EQ(std::memcmp(&want, &got, 4), 0) << "pattern " << i;
    }
  }
}

TEST(CudaConvert, FloatToHalfRoundsLikeCpu) {
  SKIP_WITHOUT_GPU();
  const int n = 1 << 16;
  Tensor f = Tensor::empty({n}, DType::f32);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> e(-30.f, 17.f);
  for (int i = 0; i < n; ++i) f.data<float>()[i] = (i % 2 ? -1.f : 1.f) * std::exp2(e(rng));
  Tensor fd = f.to(Device::cuda()), hd = Tensor::empty({n}, DType::f16, Device::cuda());
  kernels::f32_to_f16(hd, fd);
  kernels::round_to_f16(fd);
  Tensor h = hd.to(Device::cpu()), r = fd.to(Device::cpu());
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(h.data<std::uint16_t>()[i], float_to_half(f.data<float>()[i])) << f.data<float>()[i];
    ASSERT_EQ(r.data<float>()[i], round_to_half(f.data<float>()[i]));
  }
}

}  // namespace
}  // namespace glm
