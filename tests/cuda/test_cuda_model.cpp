// The model and optimizer on CUDA tensors against the CPU (the reference): a whole GLMModel
// forward + backward (flash attention on the GPU, the unfused T x T path on the CPU), and
// AdamW on a device master. Skip without a GPU. The single ops are in the op harness
// (tests/unit/op_harness.h).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "cuda_test_util.h"
#include "model/glm_model.h"
#include "model/init.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"

namespace glm {
namespace {

using namespace cudatest;

modeldef::ModelConfig small_model() {
  modeldef::ModelConfig c;
  c.vocab_size = 300;
  c.hidden_size = 128;
  c.num_layers = 2;
  c.num_heads = 4;
  c.ffn_hidden_size = 256;
  c.seq_length = 48;
  c.hidden_dropout = 0.1;
  c.attention_dropout = 0.1;
  return c;
}

// A GLM batch with padding and a bidirectional prefix per sample.
modeldef::Batch batch_of(int B, int T, int V) {
  modeldef::Batch b;
  for (Tensor* t : {&b.tokens, &b.positions, &b.targets}) *t = Tensor::empty({B, T}, DType::i32);
  b.prefix_len = Tensor::empty({B}, DType::i32);
  b.valid_len = Tensor::empty({B}, DType::i32);
  for (int s = 0; s < B; ++s) {
    const int L = T - 5 * s, P = 7 + 3 * s;
    b.prefix_len.data<std::int32_t>()[s] = P;
    b.valid_len.data<std::int32_t>()[s] = L;
    for (int i = 0; i < T; ++i) {
      const int r = s * T + i;
      b.tokens.data<std::int32_t>()[r] = (r * 37 + 11) % V;
      b.positions.data<std::int32_t>()[r] = i < P ? i : P;
      b.targets.data<std::int32_t>()[r] = i >= P && i < L ? (r * 53 + 5) % V : -1;
    }
  }
  return b;
}

// relative L2 distance of a (GPU, copied back) from b (CPU)
double rel_l2(const Tensor& a, const Tensor& b) {
  double d = 0, n = 0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    const double e = double(a.data<float>()[i]) - b.data<float>()[i];
    d += e * e;
    n += double(b.data<float>()[i]) * b.data<float>()[i];
  }
  return std::sqrt(d / n);
}

// One model, both devices: same init, same dropout masks (Philox by coordinates), same loss
// and gradients up to fp32 summation order (the GPU attention is the flash path) and, in
// fp16 and bf16, ulp flips of the stored 16-bit values (2^-11 and 2^-8 relative): the bf16
// bounds are the fp16 ones scaled by that ratio of roundoffs (8x).
TEST(CudaModel, ForwardBackwardMatchesCpuInEveryPrecision) {
  SKIP_WITHOUT_GPU();
  const modeldef::ModelConfig c = small_model();
  const modeldef::Batch batch = batch_of(3, c.seq_length, c.vocab_size);
  using modeldef::Precision;
  for (const auto precision : {Precision::fp32, Precision::fp16, Precision::bf16}) {
    const bool fp16 = precision == Precision::fp16, bf16 = precision == Precision::bf16;
    const char* name = fp16 ? "fp16" : bf16 ? "bf16" : "fp32";
    model::GLMModel cpu(c, {.precision = precision, .seed = 5});
    model::GLMModel gpu(c, {.precision = precision, .seed = 5, .device = Device::cuda()});
    cpu.init();
    gpu.init();
    ASSERT_TRUE(bit_equal(host(gpu.params().flat()), cpu.params().flat())) << name << " init";
    const model::StepOptions opt{.loss_scale = fp16 ? 1024.f : 1.f, .step = 3};
    const auto a = cpu.forward_backward(batch, opt), b = gpu.forward_backward(batch, opt);
    EXPECT_EQ(a.num_targets, b.num_targets);
    EXPECT_NEAR(b.loss_sum / a.loss_sum, 1.0, fp16 ? 2e-3 : bf16 ? 1.6e-2 : 1e-5) << name;
    const double g = rel_l2(host(gpu.grads().flat()), cpu.grads().flat());
    EXPECT_LT(g, fp16 ? 1e-2 : bf16 ? 8e-2 : 1e-4) << name << " gradients";
    std::printf("[ model %s ] loss ratio %.8f, gradient relative L2 %.3g\n", name,
                b.loss_sum / a.loss_sum, g);
  }
}

TEST(CudaModel, ForwardLogitsComeBackToTheHost) {
  SKIP_WITHOUT_GPU();
  const modeldef::ModelConfig c = small_model();
  const modeldef::Batch batch = batch_of(2, 16, c.vocab_size);
  model::GLMModel cpu(c, {.seed = 6}), gpu(c, {.seed = 6, .device = Device::cuda()});
  cpu.init();
  gpu.init();
  const Tensor a = cpu.forward_logits(batch), b = gpu.forward_logits(batch);
  ASSERT_TRUE(b.device().is_cpu());
  EXPECT_TRUE(close(b, a, 1e-4, 1e-5));
}

// AdamW on a device master: the same updates as on the host (bit-identical by construction,
// kernels/cuda/adamw_kernels.cu), and the gradient norm from the device reduction.
TEST(CudaOptimizer, AdamWOnDeviceMasterIsBitIdenticalToHost) {
  SKIP_WITHOUT_GPU();
  const modeldef::ModelConfig c = small_model();
  auto layout = std::make_shared<const modeldef::ParamLayout>(c, modeldef::ModelShard{});
  Tensor p = random_tensor({layout->total()}, 7), g = random_tensor({layout->total()}, 8);
  optim::AdamW cpu(layout, {}, p.clone());
  optim::AdamW gpu(layout, {}, dev(p));
  for (int s = 0; s < 3; ++s) {
    cpu.step(g, 1e-3, 0.5f);
    gpu.step(dev(g), 1e-3, 0.5f);
  }
  EXPECT_TRUE(bit_equal(host(gpu.master()), cpu.master()));
  EXPECT_TRUE(bit_equal(host(gpu.exp_avg_sq()), cpu.exp_avg_sq()));
  const double a = optim::primary_sum_squares(*layout, g, modeldef::full_range(*layout));
  const double b = optim::primary_sum_squares(*layout, dev(g), modeldef::full_range(*layout));
  EXPECT_NEAR(b / a, 1.0, 1e-12);
}

}  // namespace
}  // namespace glm
