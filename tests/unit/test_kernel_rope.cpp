// Rotary position embedding (kernels/rope.h): the backward is the exact inverse rotation.
// Forward against fp64 (v left untouched) and backward against finite differences, in every
// storage and on every backend, are op harness rows (test_ops_attention.cpp).
#include <gtest/gtest.h>

#include "kernels/rope.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

constexpr std::int64_t R = 5, A = 3, D = 6;
constexpr float kBase = 10000.f;

TEST(Rope, BackwardUndoesForward) {
  Tensor x = test::random_tensor({R, A, 3, D}, 4);
  Tensor pos = test::i32_tensor({9, 2, 77, 1, 0});
  Tensor y = x.clone();
  rope_forward(y, pos, kBase);
  rope_backward(y, pos, kBase);  // rotation is orthogonal: its transpose is its inverse
  EXPECT_TRUE(test::all_close(y, test::to_double(x), 1e-6, 1e-6));
}

}  // namespace
}  // namespace glm::kernels
