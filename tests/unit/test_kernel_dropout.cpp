// Dropout (kernels/dropout.h): the kernel equals the dropout_keep reference element-wise,
// keeps 1-p of the elements, is deterministic, and gives every layout the same mask (a
// slice with sample/group offsets drops what the whole tensor drops there), and 16-bit rows
// are the fp32 op rounded once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/philox.h"
#include "kernels/convert.h"
#include "kernels/dropout.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

DropoutSite make_site() {
  DropoutSite s;
  s.seed = 0x1234567890abcdefull;
  s.step = 17;
  s.site = 3 * 8 + 1;
  s.sample_offset = 5;
  s.groups_total = 6;
  s.group_offset = 2;
  return s;
}

TEST(Dropout, KernelEqualsKeepReferenceElementwise) {
  const std::int64_t B = 3, G = 2, I = 5, C = 37;  // C not a multiple of 4
  const float p = 0.3f;
  const DropoutSite site = make_site();
  Tensor x = test::random_tensor({B, G * I, C}, 1, 0.5f, 1.5f);  // nonzero everywhere
  Tensor y = x.clone();
  dropout_apply(y, p, site, G);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t g = 0; g < G; ++g)
      for (std::int64_t i = 0; i < I; ++i)
        for (std::int64_t c = 0; c < C; ++c) {
          const std::int64_t row =
              ((site.sample_offset + b) * site.groups_total + site.group_offset + g) * I + i;
          const std::int64_t at = ((b * G + g) * I + i) * C + c;
          const float want = dropout_keep(site, p, row, c) ? x.data<float>()[at] / (1.f - p) : 0.f;
          ASSERT_FLOAT_EQ(y.data<float>()[at], want) << b << " " << g << " " << i << " " << c;
        }
}

TEST(Dropout, KeepReferenceFollowsThePhiloxCoordinateScheme) {
  DropoutSite site = make_site();
  const std::int64_t row = (std::int64_t{3} << 32) + 12345, col = 4 * 9 + 2;
  const philox::Block b = philox::philox4x32_10({9, 12345, 3u ^ site.site, site.step},
                                                philox::make_key(site.seed, philox::kDropout));
  const float u = philox::to_uniform(b.v[2]);
  EXPECT_EQ(dropout_keep(site, u, row, col), true);  // keep iff u >= p
  EXPECT_EQ(dropout_keep(site, std::nextafter(u, 1.f), row, col), false);
}

TEST(Dropout, KeepRateIsOneMinusP) {
  for (float p : {0.1f, 0.5f}) {
    const std::int64_t B = 4, C = 1 << 16;
    Tensor x = Tensor::empty({B, C}, DType::f32);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 1.f;
    dropout_apply(x, p, make_site(), 1);
    std::int64_t kept = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i) kept += x.data<float>()[i] != 0.f;
    const double n = static_cast<double>(x.numel()), rate = kept / n;
    const double sigma = std::sqrt(p * (1 - p) / n);  // binomial standard deviation
    EXPECT_NEAR(rate, 1.0 - p, 5 * sigma) << "p=" << p;
  }
}

TEST(Dropout, IsDeterministicAndChangesWithStep) {
  Tensor x = test::random_tensor({4, 3, 29}, 2);
  Tensor a = x.clone(), b = x.clone(), c = x.clone();
  DropoutSite site = make_site();
  dropout_apply(a, 0.4f, site, 3);
  dropout_apply(b, 0.4f, site, 3);
  site.step += 1;
  dropout_apply(c, 0.4f, site, 3);
  EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.nbytes()));
  EXPECT_NE(0, std::memcmp(a.raw(), c.raw(), a.nbytes()));
}

TEST(Dropout, SliceWithOffsetsGetsTheWholeTensorsMask) {
  // Whole model: 4 samples, 6 groups (heads), I = 3 rows each, C = 21 columns.
  const std::int64_t B = 4, G = 6, I = 3, C = 21;
  DropoutSite whole = make_site();
  whole.sample_offset = 0;
  whole.groups_total = G;
  whole.group_offset = 0;
  Tensor x = test::random_tensor({B, G, I, C}, 3, 0.5f, 1.5f);
  Tensor full = x.clone();
  dropout_apply(full, 0.25f, whole, G);
  // A rank holding samples [1, 3) and groups [2, 5) (data- and tensor-parallel split).
  const std::int64_t b0 = 1, nb = 2, g0 = 2, ng = 3;
  Tensor part = Tensor::empty({nb, ng, I, C}, DType::f32);
  for (std::int64_t b = 0; b < nb; ++b)
    for (std::int64_t g = 0; g < ng; ++g)
      for (std::int64_t k = 0; k < I * C; ++k)
        part.data<float>()[(b * ng + g) * I * C + k] =
            x.data<float>()[((b0 + b) * G + g0 + g) * I * C + k];
  DropoutSite local = whole;
  local.sample_offset = b0;
  local.group_offset = g0;
  dropout_apply(part, 0.25f, local, ng);
  for (std::int64_t b = 0; b < nb; ++b)
    for (std::int64_t g = 0; g < ng; ++g)
      for (std::int64_t k = 0; k < I * C; ++k)
        ASSERT_EQ(part.data<float>()[(b * ng + g) * I * C + k],
                  full.data<float>()[((b0 + b) * G + g0 + g) * I * C + k]);
}

TEST(Dropout, ZeroProbabilityIsNoOpAndInvalidProbabilityIsRejected) {
  Tensor x = test::random_tensor({3, 7}, 4), y = x.clone();
  dropout_apply(y, 0.f, make_site(), 1);
  EXPECT_EQ(0, std::memcmp(x.raw(), y.raw(), x.nbytes()));
  EXPECT_THROW(dropout_apply(y, 1.f, make_site(), 1), InputError);
  EXPECT_THROW(dropout_apply(y, -0.1f, make_site(), 1), InputError);
}

// 16-bit rows are read and written natively (kernels/cpu/row16.h): bit for bit the fp32 op
// on the widened values, rounded once.
TEST(Dropout, SixteenBitStorageIsTheFp32OpRoundedOnce) {
  for (DType t : {DType::bf16, DType::f16}) {
    Tensor x32 = test::random_tensor({3, 4, 1000}, 8), x = Tensor::empty(x32.shape(), t);
    convert(x, x32);
    convert(x32, x);
    dropout_apply(x, 0.3f, make_site(), 2);
    dropout_apply(x32, 0.3f, make_site(), 2);
    Tensor want = Tensor::empty(x.shape(), t);
    convert(want, x32);
    EXPECT_EQ(std::memcmp(x.raw(), want.raw(), x.nbytes()), 0) << dtype_name(t);
  }
}

}  // namespace
}  // namespace glm::kernels
