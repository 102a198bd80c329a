// Dropout (kernels/dropout.h): the keep reference follows the Philox coordinate scheme, the
// kernel keeps 1-p of the elements, is deterministic, and gives every layout the same mask
// (a slice with sample/group offsets drops what the whole tensor drops there). The kernel
// against the keep reference element-wise, in every storage and on every backend, is an op
// harness row (test_ops_elementwise.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/philox.h"
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

}  // namespace
}  // namespace glm::kernels
