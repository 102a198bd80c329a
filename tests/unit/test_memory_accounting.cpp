// The allocator's accounting by category (core/allocator.h MemoryKind): a model, its
// optimizer and one training step of configs/tiny.json and configs/small.json, in fp32, fp16
// and bf16, against the bytes each category must hold, counted here from the config alone
// (docs/design.md section 3's table: the parameters in the precision's dtype, a separate fp32
// master in fp16 and bf16, fp32 gradients and moments).
#include <gtest/gtest.h>

#include <string>

#include "config/run_config.h"
#include "core/allocator.h"
#include "model/glm_model.h"
#include "model/init.h"
#include "modeldef/precision.h"
#include "optim/sharded_optimizer.h"
#include "tests/unit/model_test_util.h"

namespace glm {
namespace {

struct Expected {
  std::size_t parameters, gradients, master, optimizer_state, activations;
};

// What one micro-batch of B x T saves for the backward, per the model's definition: each
// layer's input and the final output (x, L+1 of them), each layer's LN(x), qkv, attention
// context, residual, LN output, W1 output and GeGLU output in the activations' dtype, the
// [B, a, T, T] attention probabilities too, and the fp32 LayerNorm statistics (mean and
// rstd of R rows, twice per layer and once for the final LayerNorm).
Expected expected(const modeldef::ModelConfig& c, modeldef::Precision p, int B, int T) {
  const modeldef::PrecisionPolicy policy = modeldef::precision_policy(p);
  const std::size_t P = static_cast<std::size_t>(c.num_parameters());
  const std::size_t act = dtype_bytes(policy.activations, 1);
  const std::size_t R = static_cast<std::size_t>(B) * T, h = c.hidden_size,
                    f = c.ffn_hidden_size, L = c.num_layers, a = c.num_heads;
  const std::size_t per_layer = (h + 3 * h + h + h + h + 2 * f + f) * R * act +
                                a * T * T * B * act + 4 * R * sizeof(float);
  const std::size_t activations =
      (L + 1) * R * h * act + L * per_layer + R * h * act + 2 * R * sizeof(float);
  return {dtype_bytes(policy.params, P), 4 * P, policy.separate_master() ? 4 * P : 0, 8 * P,
          activations};
}

void check(const std::string& config_file, modeldef::Precision precision, int B) {
  const config::RunConfig rc =
      config::load_run_config(std::string(GLM_SOURCE_DIR) + "/configs/" + config_file);
  const modeldef::ModelConfig& c = rc.model;
  const int T = c.seq_length;
  SCOPED_TRACE(config_file + " " + std::string(modeldef::precision_name(precision)));
  const MemoryStats before = memory_stats(DeviceKind::cpu);
  {
    model::ModelOptions o;
    o.precision = precision;
    model::GLMModel m(c, o);
    model::deepnorm_init(m.params(), 1);
    optim::ShardedOptimizer opt(m.params().shared_layout(), optim::adamw_config(rc.optim), m.params().flat(),
                                {});
    const modeldef::Batch batch = testing::glm_batch(B, T, c.vocab_size, true, 7);
    m.zero_grads();
    m.forward_backward(batch, {});

    const MemoryStats now = memory_stats(DeviceKind::cpu);
    auto held = [&](MemoryKind k) {
      const int i = static_cast<int>(k);
      return now.in_use_by[i] - before.in_use_by[i];
    };
    const Expected e = expected(c, precision, B, T);
    EXPECT_EQ(held(MemoryKind::parameters), e.parameters);
    EXPECT_EQ(held(MemoryKind::gradients), e.gradients);
    EXPECT_EQ(held(MemoryKind::master), e.master);
    EXPECT_EQ(held(MemoryKind::optimizer_state), e.optimizer_state);
    EXPECT_EQ(held(MemoryKind::activations), e.activations);
    EXPECT_EQ(now.in_use - before.in_use,
              [&] {
                std::size_t sum = 0;
                for (int k = 0; k < kMemoryKinds; ++k)
                  sum += now.in_use_by[k] - before.in_use_by[k];
                return sum;
              }())
        << "the categories add up to the total";
  }
  const MemoryStats after = memory_stats(DeviceKind::cpu);
  for (int k = 0; k < kMemoryKinds; ++k)
    EXPECT_EQ(after.in_use_by[k], before.in_use_by[k])
        << memory_kind_name(static_cast<MemoryKind>(k)) << " returns to where it was";
}

TEST(MemoryAccounting, TinyMatchesTheAnalyticCountInEveryPrecision) {
  for (modeldef::Precision p :
       {modeldef::Precision::fp32, modeldef::Precision::fp16, modeldef::Precision::bf16})
    check("tiny.json", p, 4);
}

TEST(MemoryAccounting, SmallMatchesTheAnalyticCountInEveryPrecision) {
  for (modeldef::Precision p :
       {modeldef::Precision::fp32, modeldef::Precision::fp16, modeldef::Precision::bf16})
    check("small.json", p, 1);
}

TEST(MemoryAccounting, ScopesNestAndRestore) {
  EXPECT_EQ(current_memory_kind(), MemoryKind::workspace);
  {
    const MemoryScope outer(MemoryKind::parameters);
    {
      const MemoryScope inner(MemoryKind::activations);
      EXPECT_EQ(current_memory_kind(), MemoryKind::activations);
    }
    EXPECT_EQ(current_memory_kind(), MemoryKind::parameters);
  }
  EXPECT_EQ(current_memory_kind(), MemoryKind::workspace);
  EXPECT_EQ(memory_kind_name(MemoryKind::optimizer_state), "optimizer_state");
}

}  // namespace
}  // namespace glm
