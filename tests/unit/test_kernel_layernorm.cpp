// LayerNorm and the DeepNorm residual form (kernels/layernorm.h): forward against fp64
// loops, backward against finite differences, accumulate contract, determinism, and 16-bit
// storage read natively.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/convert.h"
#include "kernels/layernorm.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 7, H = 37;
constexpr float kEps = 1e-5f;
// fp32 statistics over 37 values against fp64: ~1e-6 relative; 1e-5 is a safe margin.
constexpr double kRtol = 1e-5, kAtol = 1e-5;

std::vector<double> reference_ln(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 std::vector<double>* mean, std::vector<double>* rstd) {
  std::vector<double> y(R * H);
  for (int r = 0; r < R; ++r) {
    double m = 0, v = 0;
    for (int j = 0; j < H; ++j) m += x.data<float>()[r * H + j];
    m /= H;
    for (int j = 0; j < H; ++j) v += std::pow(x.data<float>()[r * H + j] - m, 2);
    const double rs = 1.0 / std::sqrt(v / H + kEps);
    for (int j = 0; j < H; ++j)
      y[r * H + j] =
          (x.data<float>()[r * H + j] - m) * rs * gamma.data<float>()[j] + beta.data<float>()[j];
    if (mean) mean->push_back(m);
    if (rstd) rstd->push_back(rs);
  }
  return y;
}

TEST(LayerNorm, ForwardMatchesReference) {
  Tensor x = test::random_tensor({R, H}, 1, -2.f, 3.f), gamma = test::random_tensor({H}, 2),
         beta = test::random_tensor({H}, 3);
  Tensor y = Tensor::empty({R, H}, DType::f32), mean = Tensor::empty({R}, DType::f32),
         rstd = Tensor::empty({R}, DType::f32);
  layernorm_forward(y, mean, rstd, x, gamma, beta, kEps);
  std::vector<double> m, rs;
  EXPECT_TRUE(test::all_close(y, reference_ln(x, gamma, beta, &m, &rs), kRtol, kAtol));
  EXPECT_TRUE(test::all_close(mean, m, kRtol, kAtol));
  EXPECT_TRUE(test::all_close(rstd, rs, kRtol, kAtol));
}

TEST(LayerNorm, ResidualForwardSavesSumAndNormalizesIt) {
  Tensor a = test::random_tensor({R, H}, 4), f = test::random_tensor({R, H}, 5),
         gamma = test::random_tensor({H}, 2), beta = test::random_tensor({H}, 3);
  const float alpha = 2.5f;
  Tensor s = Tensor::empty({R, H}, DType::f32), y = Tensor::empty({R, H}, DType::f32),
         mean = Tensor::empty({R}, DType::f32), rstd = Tensor::empty({R}, DType::f32);
  residual_layernorm_forward(s, y, mean, rstd, a, f, alpha, gamma, beta, kEps);
  std::vector<double> want_s(R * H);
  Tensor s_ref = Tensor::empty({R, H}, DType::f32);
  for (int i = 0; i < R * H; ++i) {
    want_s[i] = alpha * static_cast<double>(a.data<float>()[i]) + f.data<float>()[i];
    s_ref.data<float>()[i] = static_cast<float>(want_s[i]);
  }
  EXPECT_TRUE(test::all_close(s, want_s, 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(y, reference_ln(s_ref, gamma, beta, nullptr, nullptr), kRtol, kAtol));
}

// Upstream gradient g = dy + alpha_res * dres, so the objective is sum((w1 + alpha_res*w2) y).
void check_backward(bool with_dres) {
  Tensor x = test::random_tensor({R, H}, 21, -2.f, 2.f), gamma = test::random_tensor({H}, 22),
         beta = test::random_tensor({H}, 23), w1 = test::random_tensor({R, H}, 24),
         w2 = test::random_tensor({R, H}, 25);
  const float alpha_res = 1.7f;
  Tensor wsum = w1.clone();
  if (with_dres)
    for (int i = 0; i < R * H; ++i) wsum.data<float>()[i] += alpha_res * w2.data<float>()[i];
  Tensor y = Tensor::empty({R, H}, DType::f32), mean = Tensor::empty({R}, DType::f32),
         rstd = Tensor::empty({R}, DType::f32);
  auto loss = [&] {
    layernorm_forward(y, mean, rstd, x, gamma, beta, kEps);
    return test::project(y, wsum);
  };
  loss();
  Tensor dx = Tensor::empty({R, H}, DType::f32), dgamma = test::random_tensor({H}, 26),
         dbeta = test::random_tensor({H}, 27);
  const auto dgamma0 = test::to_double(dgamma), dbeta0 = test::to_double(dbeta);
  layernorm_backward(dx, dgamma, dbeta, w1, with_dres ? &w2 : nullptr, alpha_res, x, mean, rstd,
                     gamma);
  // dgamma/dbeta accumulate: subtract what they held before.
  Tensor dg = dgamma.clone(), dbt = dbeta.clone();
  for (int j = 0; j < H; ++j) {
    dg.data<float>()[j] -= static_cast<float>(dgamma0[j]);
    dbt.data<float>()[j] -= static_cast<float>(dbeta0[j]);
  }
  const float eps = 1e-2f;
  EXPECT_TRUE(
      test::all_close(dx, test::finite_differences(x, loss, eps), test::kFdRtol, test::kFdAtol));
  EXPECT_TRUE(test::all_close(dg, test::finite_differences(gamma, loss, eps), test::kFdRtol,
                              test::kFdAtol));
  EXPECT_TRUE(test::all_close(dbt, test::finite_differences(beta, loss, eps), test::kFdRtol,
                              test::kFdAtol));
}

TEST(LayerNorm, BackwardMatchesFiniteDifferences) { check_backward(false); }
TEST(LayerNorm, BackwardWithResidualGradientMatchesFiniteDifferences) { check_backward(true); }

TEST(LayerNorm, BackwardIsDeterministicOnManyRows) {
  const std::int64_t rows = 301, h = 64;
  Tensor x = test::random_tensor({rows, h}, 31), gamma = test::random_tensor({h}, 32),
         beta = test::random_tensor({h}, 33), dy = test::random_tensor({rows, h}, 34);
  Tensor y = Tensor::empty({rows, h}, DType::f32), mean = Tensor::empty({rows}, DType::f32),
         rstd = Tensor::empty({rows}, DType::f32);
  layernorm_forward(y, mean, rstd, x, gamma, beta, kEps);
  Tensor dx1 = Tensor::empty({rows, h}, DType::f32), dg1 = Tensor::zeros({h}, DType::f32),
         db1 = Tensor::zeros({h}, DType::f32);
  Tensor dx2 = dx1.clone(), dg2 = dg1.clone(), db2 = db1.clone();
  layernorm_backward(dx1, dg1, db1, dy, nullptr, 0.f, x, mean, rstd, gamma);
  layernorm_backward(dx2, dg2, db2, dy, nullptr, 0.f, x, mean, rstd, gamma);
  EXPECT_EQ(0, std::memcmp(dg1.raw(), dg2.raw(), dg1.nbytes()));
  EXPECT_EQ(0, std::memcmp(db1.raw(), db2.raw(), db1.nbytes()));
  // dbeta is the column sum of dy.
  std::vector<double> want(h, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < h; ++j) want[j] += dy.data<float>()[r * h + j];
  EXPECT_TRUE(test::all_close(db1, want, 1e-5, 1e-6));
}

// 16-bit rows are read and written natively (kernels/cpu/row16.h) and 16-bit gamma, beta and
// their gradients go through Wide: every output must equal, bit for bit, the fp32 op on the
// widened inputs rounded once. Rows 16-bit with fp32 parameters, and everything 16-bit.
TEST(LayerNorm, SixteenBitStorageIsTheFp32OpRoundedOnce) {
  for (DType t : {DType::bf16, DType::f16})
    for (bool params16 : {false, true}) {
      const DType tp = params16 ? t : DType::f32;
      const std::string what = fmt::format("{} params16 {}", dtype_name(t), params16);
      auto rows = [&](std::uint64_t seed) {
        return test::rounded(test::random_tensor({R, H}, seed), t);
      };
      Tensor a = rows(31), f = rows(32), dy = rows(33), dres = rows(34);
      Tensor gamma = test::rounded(test::random_tensor({H}, 35, 0.5f, 1.5f), tp),
             beta = test::rounded(test::random_tensor({H}, 36), tp);
      auto wide = [&](const Tensor& x) { return test::rounded(x, DType::f32); };
      Tensor s = Tensor::empty({R, H}, t), y = Tensor::empty({R, H}, t);
      Tensor s32 = Tensor::empty({R, H}, DType::f32), y32 = Tensor::empty({R, H}, DType::f32);
      Tensor mean = Tensor::empty({R}, DType::f32), rstd = Tensor::empty({R}, DType::f32);
      Tensor mean32 = Tensor::empty({R}, DType::f32), rstd32 = Tensor::empty({R}, DType::f32);
      residual_layernorm_forward(s, y, mean, rstd, a, f, 1.7f, gamma, beta, kEps);
      residual_layernorm_forward(s32, y32, mean32, rstd32, wide(a), wide(f), 1.7f, wide(gamma),
                                 wide(beta), kEps);
      EXPECT_TRUE(test::same_bytes(s, test::rounded(s32, t))) << what;
      EXPECT_TRUE(test::same_bytes(y, test::rounded(y32, t))) << what;
      EXPECT_TRUE(test::same_bytes(mean, mean32) && test::same_bytes(rstd, rstd32)) << what;

      layernorm_forward(y, mean, rstd, a, gamma, beta, kEps);
      layernorm_forward(y32, mean32, rstd32, wide(a), wide(gamma), wide(beta), kEps);
      EXPECT_TRUE(test::same_bytes(y, test::rounded(y32, t))) << what;

      Tensor dx = Tensor::empty({R, H}, t), dx32 = Tensor::empty({R, H}, DType::f32);
      Tensor dg = test::rounded(test::random_tensor({H}, 37), tp);
      Tensor db = test::rounded(test::random_tensor({H}, 38), tp);
      Tensor dg32 = wide(dg), db32 = wide(db), dres32 = wide(dres);
      layernorm_backward(dx, dg, db, dy, &dres, 0.3f, a, mean, rstd, gamma);
      layernorm_backward(dx32, dg32, db32, wide(dy), &dres32, 0.3f, wide(a), mean32, rstd32,
                         wide(gamma));
      EXPECT_TRUE(test::same_bytes(dx, test::rounded(dx32, t))) << what;
      EXPECT_TRUE(test::same_bytes(dg, test::rounded(dg32, tp))) << what;
      EXPECT_TRUE(test::same_bytes(db, test::rounded(db32, tp))) << what;
    }
}

}  // namespace
}  // namespace glm::kernels
