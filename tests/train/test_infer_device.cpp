// The --device option of glm-generate / glm-eval (infer/device.h) and the engine's device
// handling that runs without a GPU: every refusal names its reason.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "infer/device.h"
#include "core/cuda_device.h"

namespace glm::infer {
namespace {

std::string refusal(std::string_view name, bool built, int devices) {
  try {
    parse_device(name, built, devices);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(InferDevice, CpuIsAlwaysAccepted) {
  EXPECT_EQ(parse_device("cpu", false, 0), Device::cpu());
  EXPECT_EQ(parse_device("cpu", true, 0), Device::cpu());
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
}

TEST(InferDevice, CudaNeedsACudaBuildAndAGpu) {
  EXPECT_EQ(parse_device("cuda", true, 1), Device::cuda(0));
  EXPECT_EQ(parse_device("cuda", true, 4), Device::cuda(0));
  const std::string no_build = refusal("cuda", false, 0);
  EXPECT_NE(no_build.find("--device cuda"), std::string::npos) << no_build;
  EXPECT_NE(no_build.find("this build lacks CUDA"), std::string::npos) << no_build;
  const std::string no_gpu = refusal("cuda", true, 0);
  EXPECT_NE(no_gpu.find("--device cuda"), std::string::npos) << no_gpu;
  EXPECT_NE(no_gpu.find("no CUDA device present"), std::string::npos) << no_gpu;
}

TEST(InferDevice, UnknownDevicesAreNamed) {
  for (const char* name : {"tpu", "CUDA", "gpu", ""}) {
    const std::string r = refusal(name, true, 1);
    EXPECT_NE(r.find(std::string("--device ") + name + ":"), std::string::npos) << r;
    EXPECT_NE(r.find("expected cpu or cuda"), std::string::npos) << r;
  }
}

// This build and machine: the one-argument form decides with the real facts.
TEST(InferDevice, ThisMachineDecidesAsItsFactsSay) {
  if (built_with_cuda() && cuda_device_count() > 0) {
    EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
  } else {
    const std::string expected =
        built_with_cuda() ? "no CUDA device present" : "this build lacks CUDA";
    try {
      parse_device("cuda");
      FAIL() << "cuda accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace glm::infer
