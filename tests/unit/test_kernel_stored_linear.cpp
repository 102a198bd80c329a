// The stored-weight linear (kernels/stored_linear.h): every storage (fp32, fp16, INT8, INT4
// per row and grouped) against the fp64 product with the weight it dequantizes to.
#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "kernels/convert.h"
#include "kernels/quant.h"
#include "kernels/stored_linear.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

using test::random_tensor;

// fp32 accumulation over in = 96 products of values in [-1, 1]
constexpr double kRtol = 1e-5, kAtol = 1e-5;

// y = x Wd^T + b in fp64, Wd the weight as the storage holds it
std::vector<double> reference(const Tensor& x, const Tensor& Wd, const Tensor* b) {
  const std::int64_t n = x.size(0), in = x.size(1), out = Wd.size(0);
  std::vector<double> y(static_cast<std::size_t>(n * out));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t o = 0; o < out; ++o) {
      double s = b ? b->data<float>()[o] : 0.0;
      for (std::int64_t k = 0; k < in; ++k)
        s += double(x.data<float>()[i * in + k]) * Wd.data<float>()[o * in + k];
      y[i * out + o] = s;
    }
  return y;
}

TEST(StoredLinear, EveryStorageMatchesItsDequantizedProduct) {
  const std::int64_t out = 24, in = 96;
  const Tensor W = random_tensor({out, in}, 3), b = random_tensor({out}, 4);
  for (std::int64_t n : {1, 5, 70}) {  // the GEMV, small-GEMM and tiled paths of quant.h
    const Tensor x = random_tensor({n, in}, 5 + n);
    Tensor y = Tensor::empty({n, out}, DType::f32);
    // fp32: the weight itself
    stored_linear_forward(y, x, LinearWeight::of(W, b), true);
    EXPECT_TRUE(test::all_close(y.data<float>(), reference(x, W, &b), kRtol, kAtol)) << n;
    // fp16: the weight rounded to fp16
    Tensor W16 = Tensor::empty({out, in}, DType::f16), Wr = Tensor::empty({out, in}, DType::f32);
    f32_to_f16(W16, W);
    f16_to_f32(Wr, W16);
    stored_linear_forward(y, x, LinearWeight::of(W16, b), false);
    EXPECT_TRUE(test::all_close(y.data<float>(), reference(x, Wr, nullptr), kRtol, kAtol)) << n;
    // INT8 / INT4: the dequantized weight
    for (auto [bits, group] : {std::pair{8, 0}, std::pair{4, 0}, std::pair{4, 32}}) {
      const QuantWeight q = quantize_weight(W, bits, group);
      Tensor Wq = Tensor::empty({out, in}, DType::f32);
      dequantize_weight(Wq, q);
      stored_linear_forward(y, x, LinearWeight::quantized(q, b), true);
      EXPECT_TRUE(test::all_close(y.data<float>(), reference(x, Wq, &b), kRtol, kAtol))
          << "bits " << bits << " group " << group << " n " << n;
    }
  }
}

TEST(StoredLinear, RefusesShapesThatDoNotMatchTheWeight) {
  const LinearWeight w = LinearWeight::of(random_tensor({8, 16}, 1));
  Tensor x = random_tensor({2, 12}, 2), y = Tensor::empty({2, 8}, DType::f32);
  EXPECT_THROW(stored_linear_forward(y, x, w, false), Error);
  Tensor x_ok = random_tensor({2, 16}, 2), y_bad = Tensor::empty({3, 8}, DType::f32);
  EXPECT_THROW(stored_linear_forward(y_bad, x_ok, w, false), Error);
}

}  // namespace
}  // namespace glm::kernels
