// The next-token sampler of glm-generate (infer/sampler.h): greedy, temperature, top-k,
// top-p, the vocabulary limit, seeding, and option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "infer/sampler.h"

namespace glm::infer {
namespace {

TEST(InferSampler, GreedyIsArgmaxWithinTheVocabularyLimit) {
  const std::vector<float> z = {0.1f, 2.f, -1.f, 0.5f, 9.f};
  SamplingOptions o;  // temperature 0
  EXPECT_EQ(sample_token(z, 5, o, 0), 4);
  EXPECT_EQ(sample_token(z, 4, o, 0), 1);  // id 4 is padding beyond the tokenizer
  o.temperature = 1.f;
  o.top_k = 1;
  EXPECT_EQ(sample_token(z, 4, o, 3), 1);
}

TEST(InferSampler, FrequenciesFollowSoftmaxOverTemperature) {
  const std::vector<float> z = {1.f, 2.f, 0.f, 1.5f};
  SamplingOptions o{.temperature = 2.f, .top_k = 0, .top_p = 1.f, .seed = 11};
  std::vector<double> p(4), count(4);
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += p[i] = std::exp(z[i] / 2.0);
  const int n = 40000;
  for (int s = 0; s < n; ++s) ++count[sample_token(z, 4, o, s)];
  // binomial standard deviation at n = 40000 is <= 0.0025; 0.012 is ~5 sigma
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(count[i] / n, p[i] / sum, 0.012) << i;
}

TEST(InferSampler, TopKAndTopPCutTheTail) {
  const std::vector<float> z = {3.f, 2.f, 1.f, 0.f, -1.f};
  SamplingOptions k{.temperature = 1.f, .top_k = 2, .top_p = 1.f, .seed = 5};
  SamplingOptions p{.temperature = 1.f, .top_k = 0, .top_p = 0.6f, .seed = 5};
  // softmax: 0.636, 0.234, 0.086, ...: top-p 0.6 keeps only the first
  for (int s = 0; s < 2000; ++s) {
    EXPECT_LT(sample_token(z, 5, k, s), 2);
    EXPECT_EQ(sample_token(z, 5, p, s), 0);
  }
}

TEST(InferSampler, SameSeedAndStepGiveTheSameToken) {
  std::vector<float> z(100);
  for (int i = 0; i < 100; ++i) z[i] = std::sin(i * 0.7f);
  SamplingOptions a{.temperature = 1.f, .top_k = 0, .top_p = 1.f, .seed = 1};
  SamplingOptions b = a;
  b.seed = 2;
  int differ = 0;
  for (int s = 0; s < 50; ++s) {
    EXPECT_EQ(sample_token(z, 100, a, s), sample_token(z, 100, a, s));
    differ += sample_token(z, 100, a, s) != sample_token(z, 100, b, s);
  }
  EXPECT_GT(differ, 25);  // another seed is another stream
}

TEST(InferSampler, BadOptionsAreRefused) {
  EXPECT_THROW(validate({.temperature = -1.f}), InputError);
  EXPECT_THROW(validate({.top_k = -2}), InputError);
  EXPECT_THROW(validate({.top_p = 0.f}), InputError);
  EXPECT_THROW(validate({.top_p = 1.5f}), InputError);
  EXPECT_NO_THROW(validate({.temperature = 0.7f, .top_k = 40, .top_p = 0.9f}));
}

}  // namespace
}  // namespace glm::infer
