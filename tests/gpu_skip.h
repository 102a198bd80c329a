// The one skip of the GPU tests: on a machine (or a build) without a CUDA device the test
// is skipped with a visible reason, and only then; everywhere else it runs and can fail.
#pragma once

#include <gtest/gtest.h>

#include "core/cuda_device.h"

#define SKIP_WITHOUT_GPU()                                                        \
  if (::glm::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present: GPU test not run"
