// 16-bit storage (modeldef/precision.h): bf16 and fp16 models store their activations and
// activation gradients in 16 bits, agree with fp32 within the storage's rounding, and train
// like fp32 over many steps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "core/allocator.h"
#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "model/glm_model.h"
#include "model/init.h"
#include "model_test_util.h"
#include "optim/adamw.h"

namespace glm::model {
namespace {

using glm::testing::glm_batch;

modeldef::ModelConfig small_config() {
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

// bf16 keeps 8 significant bits (unit round-off 2^-9 = 2e-3, 8x fp16's). Measured on this
// test (2026-12-04): loss 2e-6 relative (the near-uniform softmax of a fresh model averages
// the logits' rounding away), worst gradient tensor 8.2e-3 in relative L2 norm, about four
// bf16 roundings; the bounds are one bf16 rounding for the loss and ~4x for the gradients.
constexpr double kBf16LossRelTol = 2e-3;
constexpr double kBf16GradRelL2Tol = 3e-2;

double rel_l2(const Tensor& a, const Tensor& b) {
  double diff = 0, ref = 0;
  for (std::int64_t j = 0; j < a.numel(); ++j) {
    const double x = a.data<float>()[j], y = b.data<float>()[j];
    diff += (x - y) * (x - y);
    ref += x * x;
  }
  return std::sqrt(diff / std::max(ref, 1e-30));
}

TEST(GLMModelBf16, AgreesWithFp32WithinTolerance) {
  modeldef::ModelConfig c = small_config();
  GLMModel m32(c, {.precision = modeldef::Precision::fp32, .seed = 21});
  GLMModel m16(c, {.precision = modeldef::Precision::bf16, .seed = 21});
  m32.init();
  m16.init();
  m32.set_params(m16.params().flat());  // the bf16 weights in both
  modeldef::Batch b = glm_batch(4, 32, c.vocab_size, true, 21);
  m32.zero_grads();
  m16.zero_grads();
  const LossStats s32 = m32.forward_backward(b, {.training = false});
  const LossStats s16 = m16.forward_backward(b, {.training = false});
  EXPECT_NEAR(s16.loss_sum / s32.loss_sum, 1.0, kBf16LossRelTol);
  double worst = 0;
  for (std::size_t i = 0; i < m32.layout().specs().size(); ++i) {
    const double e = rel_l2(m32.grads().at(static_cast<int>(i)), m16.grads().at(static_cast<int>(i)));
    worst = std::max(worst, e);
    EXPECT_LT(e, kBf16GradRelL2Tol) << m32.layout().specs()[i].name;
  }
  std::printf("bf16 vs fp32: loss %.2e relative, worst gradient %.2e relative L2\n",
              std::abs(s16.loss_sum / s32.loss_sum - 1), worst);
}

// In bf16 and fp16 the parameters are one 16-bit buffer holding the fp32 initialisation
// rounded to nearest even.
TEST(GLMModelBf16, ParametersAreStoredIn16Bits) {
  for (const auto& [precision, dtype] : {std::pair{modeldef::Precision::bf16, DType::bf16},
                                         std::pair{modeldef::Precision::fp16, DType::f16}}) {
    GLMModel m(small_config(), {.precision = precision, .seed = 2});
    m.init();
    ASSERT_EQ(m.params().dtype(), dtype);
    EXPECT_EQ(m.params().layer(0).w1.dtype(), dtype);
    modeldef::FlatParams fp32(m.params().shared_layout());
    deepnorm_init(fp32, 2);
    Tensor want = Tensor::empty(fp32.flat().shape(), dtype);
    kernels::convert(want, fp32.flat());
    EXPECT_EQ(std::memcmp(want.raw(), m.params().flat().raw(), want.nbytes()), 0)
        << dtype_name(dtype);
  }
}

// The bytes one micro-batch's activations hold (everything the model allocates for its
// forward and backward beyond the parameters and gradients), per precision.
std::size_t activation_bytes(modeldef::Precision p) {
  const modeldef::ModelConfig c = small_config();
  const std::size_t before = memory_stats(DeviceKind::cpu).in_use;
  std::size_t held = 0;
  {
    GLMModel m(c, {.precision = p, .seed = 4});
    m.init();
    const std::size_t with_params = memory_stats(DeviceKind::cpu).in_use;
    modeldef::Batch b = glm_batch(4, 32, c.vocab_size, true, 4);
    m.zero_grads();
    m.forward_backward(b, {.training = false});
    held = memory_stats(DeviceKind::cpu).in_use - with_params;
  }
  EXPECT_EQ(memory_stats(DeviceKind::cpu).in_use, before) << "the model frees what it holds";
  return held;
}

TEST(GLMModelBf16, ActivationsTakeHalfTheFp32Bytes) {
  const double f32 = static_cast<double>(activation_bytes(modeldef::Precision::fp32));
  const double bf16 = static_cast<double>(activation_bytes(modeldef::Precision::bf16));
  const double fp16 = static_cast<double>(activation_bytes(modeldef::Precision::fp16));
  // Half, plus the fp32 LayerNorm statistics ([R] per norm against [R, h] tensors: 1-2%).
  EXPECT_GT(bf16 / f32, 0.49);
  EXPECT_LT(bf16 / f32, 0.53);
  EXPECT_EQ(bf16, fp16);
  std::printf("activation bytes: fp32 %.0f, bf16 %.0f (%.3f), fp16 %.0f\n", f32, bf16, bf16 / f32,
              fp16);
}

// 50 AdamW steps on a fixed set of batches from the same initial weights: the 16-bit runs
// (fp32 master weights and moments starting from the fp32 draw, 16-bit parameters written by
// AdamW's pass, as in the trainer) follow the fp32 loss curve. Measured here (2026-12-07,
// per-projection Xavier init): the final loss 2.36990 (bf16) and 2.36757 (fp16) against
// 2.36906 (fp32), 3.5e-4 and 6.3e-4 relative (before the init change 1.9e-4 and 0.4e-4: which
// run lands closer is chance); the bound leaves 3x margin over the larger.
double train_loss(modeldef::Precision p, int steps) {
  modeldef::ModelConfig c = small_config();
  GLMModel m(c, {.precision = p, .seed = 31});
  auto layout = m.params().shared_layout();
  modeldef::FlatParams initial(layout);
  deepnorm_init(initial, 31);
  m.set_params(initial.flat());
  const bool half = m.params().dtype() != DType::f32;
  optim::AdamWConfig cfg;
  Tensor master = half ? initial.flat() : m.params().flat();
  optim::AdamW adam(layout, cfg, master);
  double last = 0;
  for (int s = 0; s < steps; ++s) {
    modeldef::Batch b = glm_batch(4, 32, c.vocab_size, true, 100 + s % 5);
    m.zero_grads();
    const LossStats st = m.forward_backward(b, {.training = false});
    last = st.loss_sum / st.num_targets;
    adam.step(m.grads().flat(), 3e-3, 1.f, half ? &m.params().flat() : nullptr);
  }
  return last;
}

TEST(GLMModelBf16, FiftyStepsFollowFp32) {
  const double f32 = train_loss(modeldef::Precision::fp32, 50);
  const double bf16 = train_loss(modeldef::Precision::bf16, 50);
  const double fp16 = train_loss(modeldef::Precision::fp16, 50);
  std::printf("loss after 50 steps: fp32 %.5f bf16 %.5f fp16 %.5f\n", f32, bf16, fp16);
  EXPECT_NEAR(bf16 / f32, 1.0, 2e-3);
  EXPECT_NEAR(fp16 / f32, 1.0, 2e-3);
  EXPECT_LT(f32, std::log(200.0) * 0.9) << "the runs learn";
}

}  // namespace
}  // namespace glm::model
