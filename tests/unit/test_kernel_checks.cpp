// The ops' argument checks (kernels/check.h, run by each op's entry): mixed or unsupported
// devices are refused with the op's name, mismatched shapes are reported with the shapes.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "kernels/geglu.h"
#include "kernels/layernorm.h"
#include "test_kernel_util.h"

namespace glm::kernels {
namespace {

TEST(KernelChecks, CudaTensorIsRefusedNamingTheOp) {
  float buf[8] = {};
  // A wrapped pointer claiming to be device memory: the kernel must refuse before touching it.
  Tensor u = Tensor::wrap(buf, {2, 4}, DType::f32, Device::cuda(0));
  Tensor g = Tensor::empty({2, 2}, DType::f32);
#ifdef GLM_WITH_CUDA
  // With the CUDA backend the op runs on CUDA, and its entry refuses the CPU tensor mixed in
  // with a CUDA one, naming the op and the tensor; without it, the entry refuses the device
  // tensor.
  const char* expected = "cuda::geglu_forward: g must be on a CUDA device";
#else
  const char* expected = "op geglu_forward: the CPU kernel got a device tensor";
#endif
  try {
    geglu_forward(g, u);
    FAIL() << "a CUDA tensor must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(KernelChecks, ShapeMismatchNamesTheShapes) {
  Tensor x = test::random_tensor({3, 5}, 1), y = Tensor::empty({3, 4}, DType::f32),
         mean = Tensor::empty({3}, DType::f32), rstd = Tensor::empty({3}, DType::f32),
         gamma = test::random_tensor({5}, 2), beta = test::random_tensor({5}, 3);
  try {
    layernorm_forward(y, mean, rstd, x, gamma, beta, 1e-5f);
    FAIL() << "a shape mismatch must throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[3, 4]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 5]"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace glm::kernels
