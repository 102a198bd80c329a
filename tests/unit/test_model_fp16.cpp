// fp16 mixed mode (docs/design.md section 3) agrees with fp32 within a documented tolerance, and
// its overflow behaviour is what dynamic loss scaling relies on.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/elementwise.h"
#include "model/glm_model.h"
#include "model_test_util.h"

namespace glm::model {
namespace {

using glm::testing::glm_batch;

// fp16 keeps 11 significant bits (unit round-off 4.9e-4). Rounding every stored activation
// and gradient over a few layers compounds to ~1e-3 relative on the loss; gradients, which
// pass through twice as many roundings, stay within a few 1e-3 in relative L2 norm.
// Measured on this test: loss ~2e-4, worst gradient tensor ~4e-3 (see README).
constexpr double kLossRelTol = 2e-3;
constexpr double kGradRelL2Tol = 2e-2;

modeldef::ModelConfig fp16_config() {
  modeldef::ModelConfig c;
  c.vocab_size = 200;
  c.hidden_size = 64;
  c.num_layers = 3;
  c.num_heads = 4;
  c.ffn_hidden_size = 128;
  c.seq_length = 32;
  c.hidden_dropout = 0;
  c.attention_dropout = 0;
  return c;
}

TEST(GLMModelFp16, AgreesWithFp32WithinTolerance) {
  modeldef::ModelConfig c = fp16_config();
  GLMModel m32(c, {.precision = modeldef::Precision::fp32, .seed = 21});
  GLMModel m16(c, {.precision = modeldef::Precision::fp16, .seed = 21});
  m32.init();
  m16.init();
  // Same weights in both: the fp16 ones, so only activation storage differs.
  m32.set_params(m16.params().flat());
  modeldef::Batch b = glm_batch(4, 32, c.vocab_size, true, 21);
  const float scale = 1024.f;  // a loss scale, divided out below
  m32.zero_grads();
  m16.zero_grads();
  LossStats s32 = m32.forward_backward(b, {.loss_scale = 1.f, .training = false});
  LossStats s16 = m16.forward_backward(b, {.loss_scale = scale, .training = false});
  EXPECT_NEAR(s16.loss_sum / s32.loss_sum, 1.0, kLossRelTol);
  kernels::scale(m16.grads().flat(), 1.f / scale);
  const auto& layout = m32.layout();
  for (std::size_t i = 0; i < layout.specs().size(); ++i) {
    const Tensor& g32 = m32.grads().at(static_cast<int>(i));
    const Tensor& g16 = m16.grads().at(static_cast<int>(i));
    double diff = 0, ref = 0;
    for (std::int64_t j = 0; j < g32.numel(); ++j) {
      double a = g32.data<float>()[j], bb = g16.data<float>()[j];
      diff += (a - bb) * (a - bb);
      ref += a * a;
    }
    EXPECT_LT(std::sqrt(diff / ref), kGradRelL2Tol) << layout.specs()[i].name;
  }
}

TEST(GLMModelFp16, HugeLossScaleOverflowsToInfLikeAGpu) {
  modeldef::ModelConfig c = fp16_config();
  GLMModel m(c, {.precision = modeldef::Precision::fp16, .seed = 3});
  m.init();
  modeldef::Batch b = glm_batch(2, 32, c.vocab_size, false, 3);
  m.zero_grads();
  m.forward_backward(b, {.loss_scale = 1e9f, .training = false});
  EXPECT_FALSE(kernels::all_finite(m.grads().flat()));  // what the loss scaler detects
  m.zero_grads();
  m.forward_backward(b, {.loss_scale = 1.f, .training = false});
  EXPECT_TRUE(kernels::all_finite(m.grads().flat()));
}

}  // namespace
}  // namespace glm::model
