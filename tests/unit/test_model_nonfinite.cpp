// Non-finite provenance (GLMModel::set_find_nonfinite, glm-train --debug-nonfinite): the
// first forward activation, activation gradient or parameter gradient that became
// non-finite is named, in the order the step produced them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "model/glm_model.h"
#include "model_test_util.h"

namespace glm::model {
namespace {

using glm::testing::glm_batch;
using glm::testing::tiny_config;

TEST(NonFinite, NamesTheFirstLayerAndTensorThatOverflowed) {
  const modeldef::ModelConfig c = tiny_config(3);
  GLMModel m(c, {.precision = modeldef::Precision::fp32, .seed = 5});
  m.init();
  m.set_find_nonfinite(true);
  const modeldef::Batch b = glm_batch(2, 16, c.vocab_size, true, 5);

  // finite everywhere: nothing named
  m.forward_backward(b, {.loss_scale = 1.f, .training = false});
  EXPECT_EQ(m.first_nonfinite(), "");

  // a NaN in layer 1's dense weight: the first non-finite tensor is layer 1's output
  m.params().layer(1).dense_w.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  m.zero_grads();
  m.forward_backward(b, {.loss_scale = 1.f, .training = false});
  EXPECT_EQ(m.first_nonfinite(), "forward activation: output of layer 1");

  // an infinite loss scale: a finite forward, then the head's gradients are the first non-finite
  m.init();
  m.clear_nonfinite();
  m.zero_grads();
  m.forward_backward(b, {.loss_scale = std::numeric_limits<float>::infinity(), .training = false});
  EXPECT_NE(m.first_nonfinite().find("gradient"), std::string::npos) << m.first_nonfinite();
  EXPECT_EQ(m.first_nonfinite().find("forward"), std::string::npos) << m.first_nonfinite();

  // off: nothing is checked, nothing named
  m.set_find_nonfinite(false);
  m.clear_nonfinite();
  m.forward_backward(b, {.loss_scale = std::numeric_limits<float>::infinity(), .training = false});
  EXPECT_EQ(m.first_nonfinite(), "");
}

}  // namespace
}  // namespace glm::model
