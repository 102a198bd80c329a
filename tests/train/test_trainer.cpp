// The single-process trainer on the real bundled corpus (Debian fortunes + fortunes-zh,
// prepared by the corpus fixture): learning, fp16 tracking fp32, recomputation, and clear
// errors for bad configs and data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "core/error.h"
#include "optim/training_health.h"
#include "train/trainer.h"
#include "train_test_util.h"

namespace glm::train {
namespace {

using glm::testing::test_corpus;
using glm::testing::temp_dir;
using glm::testing::tiny_run;

// Measured (2026-11-27): 60 steps of the tiny config (480 samples) take the held-out loss
// from 8.70 (ln 6016 = 8.70, a uniform guess) to 6.49. Asserting a drop of 1.0 nats leaves a
// wide margin for differences between machines while failing any broken trainer.
constexpr double kMinHeldOutDrop = 1.0;

TEST(Trainer, TinyConfigLowersHeldOutLossOnTheRealCorpus) {
  config::RunConfig rc = tiny_run({"train.train_iters=60"});
  Trainer t(rc, {.log_dir = temp_dir("glm_trainer_tiny")});
  auto [before, after] = t.run();
  EXPECT_NEAR(before.loss, std::log(6016.0), 0.5) << "an untrained model guesses uniformly";
  EXPECT_LT(after.loss, before.loss - kMinHeldOutDrop)
      << "held-out loss " << before.loss << " -> " << after.loss;
  EXPECT_EQ(t.state().step, 60);
  EXPECT_EQ(t.state().consumed_samples, 60 * 8);
  EXPECT_EQ(t.state().skipped_steps, 0);
}

// fp16 rounds every stored activation and gradient (unit round-off 4.9e-4), but a step's
// loss averages ~700 target tokens, so the per-token errors mostly cancel. Measured
// (2026-11-27): worst per-step relative difference 2.6e-5 over 50 steps. The documented
// bound, 2e-3, is four times the fp16 unit round-off: a real divergence exceeds it.
constexpr double kFp16LossRelTol = 2e-3;

// Training health on a known case: the per-group gradient norms add up (in squares) to the
// global one; a group's norm is the norm of its parameters' gradients in the model's own
// gradient buffer; a group's update ratio is |W_after - W_before| / |W_after| of its master
// weights; metrics.jsonl carries both per group.
TEST(Trainer, HealthSignalsPerGroupOnAKnownStep) {
  const std::string dir = temp_dir("glm_trainer_health");
  // No warm-up: the first update is ~lr per element, far above fp32's rounding of |W|.
  config::RunConfig rc =
      tiny_run({"train.log_interval=1", "train.train_iters=2", "optim.lr_warmup_samples=0"});
  Trainer t(rc, {.log_dir = dir});
  const int G = rc.model.num_layers + 2;
  const Tensor before = t.optimizer_tensors().master.clone();
  const StepResult r = t.train_step();
  ASSERT_FALSE(r.skipped);
  // The update ratio of each group against the weights before and after the step.
  const Tensor after = t.optimizer_tensors().master;
  ASSERT_EQ(static_cast<int>(r.group_update_ratio.size()), G);
  std::vector<double> du(G, 0.0), w2(G, 0.0);
  for (const auto& spec : t.model().layout().specs()) {
    const int g = optim::health_group_of(rc.model, spec);
    for (std::int64_t i = spec.offset; i < spec.offset + spec.numel(); ++i) {
      const double a = after.data<float>()[i], d = a - before.data<float>()[i];
      du[g] += d * d;
      w2[g] += a * a;
    }
  }
  for (int g = 0; g < G; ++g) {
    const double want = std::sqrt(du[g] / w2[g]);
    // reconstructed from the moments: fp32 rounding of p_new, ~1e-7 of |W| per element
    EXPECT_NEAR(r.group_update_ratio[g] / want, 1.0, 1e-3) << "group " << g << " want " << want;
    EXPECT_GT(want, 0) << "group " << g;
  }
  ASSERT_EQ(static_cast<int>(r.group_grad_norm.size()), G);
  double sum2 = 0;
  for (double x : r.group_grad_norm) sum2 += x * x;
  EXPECT_NEAR(std::sqrt(sum2) / r.grad_norm, 1.0, 1e-9);
  // Layer 1's norm from its gradients directly (the buffer still holds this step's).
  double l1 = 0;
  for (const auto& spec : t.model().layout().specs()) {
    if (spec.layer != 1) continue;
    const Tensor& g = t.model().grads().get(spec.name);
    for (std::int64_t i = 0; i < g.numel(); ++i) l1 += double(g.data<float>()[i]) * g.data<float>()[i];
  }
  EXPECT_NEAR(r.group_grad_norm[2] / std::sqrt(l1), 1.0, 1e-9);
  t.run();  // step 2, logged
  std::ifstream metrics(dir + "/metrics.jsonl");
  bool found = false;
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("grad_norm_by_group")) continue;
    found = true;
    EXPECT_EQ(j["grad_norm_by_group"].size(), static_cast<std::size_t>(G));
    for (const char* g : {"embedding", "layers.0", "layers.1", "final_layernorm"}) {
      EXPECT_TRUE(j["grad_norm_by_group"].contains(g)) << g;
      EXPECT_GT(j["update_ratio_by_group"].value(g, 0.0), 0.0) << g;
    }
    for (const char* l : {"first_layer", "last_layer"})
      EXPECT_TRUE(std::isfinite(j["max_attention_logit"].value(l, NAN))) << l;
  }
  EXPECT_TRUE(found) << "metrics.jsonl has no grad_norm_by_group";
}

TEST(Trainer, Fp16TracksFp32Over50Steps) {
  // A loss scale that never overflows here, so both runs take the same 50 updates.
  config::RunConfig r32 = tiny_run({"train.train_iters=50"});
  config::RunConfig r16 = tiny_run({"train.train_iters=50", "train.precision=\"fp16\"",
                            "optim.initial_loss_scale=4096"});
  Trainer t32(r32, {.log_dir = temp_dir("glm_trainer_fp32")});
  Trainer t16(r16, {.log_dir = temp_dir("glm_trainer_fp16")});
  double worst = 0;
  for (int s = 0; s < 50; ++s) {
    StepResult a = t32.train_step(), b = t16.train_step();
    ASSERT_FALSE(b.skipped) << "step " << s << ": " << b.skip_reason;
    worst = std::max(worst, std::abs(b.loss - a.loss) / a.loss);
  }
  EXPECT_LT(worst, kFp16LossRelTol);
  EXPECT_LT(std::abs(t16.evaluate().loss - t32.evaluate().loss) / t32.evaluate().loss,
            kFp16LossRelTol);
}

// bf16 rounds every stored activation and gradient to 8 significant bits (unit round-off
// 2^-9 = 2e-3), without a loss scale. Measured (2026-12-04, configs/tiny.json): see the
// printed worst per-step difference; the bound, 1e-2, is five bf16 unit round-offs.
constexpr double kBf16LossRelTol = 1e-2;

TEST(Trainer, Bf16TracksFp32Over50StepsWithoutLossScaling) {
  config::RunConfig r32 = tiny_run({"train.train_iters=50"});
  config::RunConfig r16 = tiny_run({"train.train_iters=50", "train.precision=\"bf16\""});
  Trainer t32(r32, {.log_dir = temp_dir("glm_trainer_fp32_b")});
  Trainer t16(r16, {.log_dir = temp_dir("glm_trainer_bf16")});
  EXPECT_FALSE(t16.loss_scaler().dynamic()) << "bf16 trains without loss scaling";
  EXPECT_EQ(t16.loss_scaler().scale(), 1.0);
  double worst = 0;
  for (int s = 0; s < 50; ++s) {
    StepResult a = t32.train_step(), b = t16.train_step();
    ASSERT_FALSE(b.skipped) << "step " << s << ": " << b.skip_reason;
    worst = std::max(worst, std::abs(b.loss - a.loss) / a.loss);
  }
  std::printf("bf16 vs fp32 over 50 steps: worst per-step loss difference %.2e relative\n",
              worst);
  EXPECT_LT(worst, kBf16LossRelTol);
  EXPECT_LT(std::abs(t16.evaluate().loss - t32.evaluate().loss) / t32.evaluate().loss,
            kBf16LossRelTol);
}

TEST(Trainer, Fp16OverflowSkipsTheStepAndBacksOff) {
  // An absurd initial scale overflows the fp16 gradients: the step is skipped, the weights
  // stay, and after `hysteresis` overflows the scale halves.
  config::RunConfig rc = tiny_run({"train.precision=\"fp16\"", "optim.initial_loss_scale=1e30",
                           "optim.hysteresis=1"});
  Trainer t(rc, {.log_dir = temp_dir("glm_trainer_overflow")});
  Tensor before = t.model().params().flat().clone();
  StepResult r = t.train_step();
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(t.state().skipped_steps, 1);
  EXPECT_EQ(t.loss_scaler().scale(), 0.5e30);
  EXPECT_EQ(std::memcmp(before.raw(), t.model().params().flat().raw(), before.nbytes()), 0);
}

TEST(Trainer, RecomputeGivesBitIdenticalTraining) {
  config::RunConfig a = tiny_run({"model.hidden_dropout=0.1", "model.attention_dropout=0.1"});
  config::RunConfig b = tiny_run({"model.hidden_dropout=0.1", "model.attention_dropout=0.1",
                          "train.recompute=\"full\""});
  Trainer ta(a, {.log_dir = temp_dir("glm_trainer_rc0")});
  Trainer tb(b, {.log_dir = temp_dir("glm_trainer_rc1")});
  for (int s = 0; s < 3; ++s) EXPECT_EQ(ta.train_step().loss, tb.train_step().loss);
  const Tensor& pa = ta.model().params().flat();
  const Tensor& pb = tb.model().params().flat();
  EXPECT_EQ(std::memcmp(pa.raw(), pb.raw(), pa.nbytes()), 0);
}

std::string input_error(const config::RunConfig& rc) {
  try {
    Trainer t(rc, {.log_dir = temp_dir("glm_trainer_bad")});
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Trainer, BadDataGivesClearErrors) {
  EXPECT_NE(input_error(tiny_run({"train.data_dir=\"/nonexistent/corpus\""})).find("/nonexistent/corpus"),
            std::string::npos);
  EXPECT_NE(input_error(tiny_run({"model.vocab_size=100"})).find("model.vocab_size"),
            std::string::npos);
  // A data directory whose valid.h5 is truncated: the error names that file.
  std::string dir = temp_dir("glm_trainer_corrupt");
  for (const char* f : {"tokenizer.model", "train.h5", "valid.h5"})
    std::filesystem::copy_file(test_corpus() + "/" + f, dir + "/" + f);
  std::filesystem::resize_file(dir + "/valid.h5", std::filesystem::file_size(dir + "/valid.h5") / 2);
  std::string e = input_error(tiny_run({"train.data_dir=\"" + dir + "\""}));
  EXPECT_NE(e.find(dir + "/valid.h5"), std::string::npos) << e;
}

}  // namespace
}  // namespace glm::train
