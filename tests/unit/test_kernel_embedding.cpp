// Token embedding (kernels/embedding.h): lookup with a vocabulary shard, bad tokens as
// InputErrors naming row and value, backward with repeated tokens against an fp64
// reference and finite differences, thread-count independence, and 16-bit storage read
// natively.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/convert.h"
#include "kernels/embedding.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t kVocab = 101, H = 37;

TEST(Embedding, ForwardLooksUpRowsOfItsShardAndZerosOthers) {
  const std::int64_t start = 40, local = 30;  // this shard holds tokens [40, 70)
  Tensor table = test::random_tensor({local, H}, 1);
  Tensor tokens = test::i32_tensor({40, 69, 3, 55, 100, 55, 0});
  Tensor x = test::random_tensor({7, H}, 2);
  embedding_forward(x, tokens, table, start, kVocab);
  for (int r = 0; r < 7; ++r) {
    const int t = tokens.data<std::int32_t>()[r];
    for (int j = 0; j < H; ++j) {
      const float want =
          (t >= start && t < start + local) ? table.data<float>()[(t - start) * H + j] : 0.f;
      ASSERT_EQ(x.data<float>()[r * H + j], want) << "row " << r;
    }
  }
}

TEST(Embedding, TokenOutsideVocabularyIsInputErrorNamingRowAndValue) {
  Tensor table = test::random_tensor({kVocab, H}, 1), x = Tensor::empty({4, H}, DType::f32);
  for (int bad : {101, -1}) {
    Tensor tokens = test::i32_tensor({1, 2, 3, bad});
    try {
      embedding_forward(x, tokens, table, 0, kVocab);
      FAIL() << "token " << bad << " must be rejected";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("row 3"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::to_string(bad)), std::string::npos) << msg;
    }
  }
}

TEST(Embedding, BackwardAccumulatesScaledGradientsOfRepeatedTokens) {
  const std::int64_t start = 10, local = 50;
  Tensor tokens = test::i32_tensor({12, 12, 59, 3, 12, 30, 59, 80, 10});
  const std::int64_t R = tokens.numel();
  Tensor dx = test::random_tensor({R, H}, 3), dtable = test::random_tensor({local, H}, 4);
  const auto before = test::to_double(dtable);
  const float alpha = 0.1f;
  embedding_backward(dtable, dx, tokens, alpha, start);
  std::vector<double> want = before;
  for (int r = 0; r < R; ++r) {
    const int t = tokens.data<std::int32_t>()[r] - start;
    if (t < 0 || t >= local) continue;
    for (int j = 0; j < H; ++j)
      want[t * H + j] += alpha * static_cast<double>(dx.data<float>()[r * H + j]);
  }
  // fp32 sums of at most 4 terms: a few ulp.
  EXPECT_TRUE(test::all_close(dtable, want, 1e-6, 1e-7));
}

TEST(Embedding, BackwardMatchesFiniteDifferences) {
  Tensor table = test::random_tensor({kVocab, H}, 5);
  Tensor tokens = test::i32_tensor({7, 100, 7, 0, 55});
  Tensor w = test::random_tensor({5, H}, 6), x = Tensor::empty({5, H}, DType::f32);
  auto loss = [&] {
    embedding_forward(x, tokens, table, 0, kVocab);
    return test::project(x, w);
  };
  Tensor dtable = Tensor::zeros({kVocab, H}, DType::f32);
  embedding_backward(dtable, w, tokens, 1.f, 0);
  EXPECT_TRUE(test::all_close(dtable, test::finite_differences(table, loss, 1e-2f), test::kFdRtol,
                              test::kFdAtol));
}

TEST(Embedding, BackwardIsIdenticalForAnyThreadCount) {
  const std::int64_t R = 513, h = 96;
  std::vector<std::int32_t> tok(R);
  for (int r = 0; r < R; ++r) tok[r] = (r * 7919) % 13;  // many repeats
  Tensor tokens = test::i32_tensor(tok), dx = test::random_tensor({R, h}, 7);
  Tensor d1 = Tensor::zeros({13, h}, DType::f32), d2 = Tensor::zeros({13, h}, DType::f32);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  embedding_backward(d1, dx, tokens, 0.5f, 0);
  omp_set_num_threads(std::max(2, threads));
  embedding_backward(d2, dx, tokens, 0.5f, 0);
  omp_set_num_threads(threads);
  EXPECT_EQ(0, std::memcmp(d1.raw(), d2.raw(), d1.nbytes()));
}

// 16-bit x, dx and table are read and written natively (kernels/cpu/row16.h): bit for bit
// the fp32 op on the widened values, rounded once; every mix of table and x dtypes.
TEST(Embedding, SixteenBitStorageIsTheFp32OpRoundedOnce) {
  const std::int64_t h = 400, start = 40, local = 30;
  Tensor tokens = test::i32_tensor({40, 69, 3, 55, 100, 55, 0, 41, 41});
  for (DType tt : {DType::f32, DType::bf16, DType::f16})
    for (DType tx : {DType::f32, DType::bf16, DType::f16}) {
      const std::string what = fmt::format("table {} x {}", dtype_name(tt), dtype_name(tx));
      Tensor table = test::rounded(test::random_tensor({local, h}, 3), tt);
      Tensor x = Tensor::empty({9, h}, tx), x32 = Tensor::empty({9, h}, DType::f32);
      embedding_forward(x, tokens, table, start, kVocab);
      embedding_forward(x32, tokens, test::rounded(table, DType::f32), start, kVocab);
      EXPECT_TRUE(test::same_bytes(x, test::rounded(x32, tx))) << what;

      Tensor dx = test::rounded(test::random_tensor({9, h}, 4), tx);
      Tensor dt = test::random_tensor({local, h}, 5), dt32 = dt.clone();
      embedding_backward(dt, dx, tokens, 0.1f, start);
      embedding_backward(dt32, test::rounded(dx, DType::f32), tokens, 0.1f, start);
      EXPECT_TRUE(test::same_bytes(dt, dt32)) << what;
    }
}

}  // namespace
}  // namespace glm::kernels
