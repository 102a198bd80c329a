// Token embedding (kernels/embedding.h): the backward's sums over repeated tokens are the
// same for any thread count. The lookup with a vocabulary shard, a bad token's InputError
// and the backward against fp64 and finite differences, in every storage and on every
// backend, are op harness rows (test_ops_elementwise.cpp).
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>

#include "kernels/embedding.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

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

}  // namespace
}  // namespace glm::kernels
