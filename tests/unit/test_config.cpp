// Run-config parsing: valid files load, every bad value or unknown key is an InputError
// whose message names the key.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/error.h"
#include "kernels/gemm.h"

namespace glm::config {
namespace {

const char* kValid = R"({"model": {"vocab_size": 100, "hidden_size": 64, "num_layers": 2,
  "num_heads": 4, "seq_length": 32}, "train": {"micro_batch_size": 2, "precision": "fp16"}})";

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_run_config(text, "test.json", overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(RunConfig, ParsesAndResolvesDefaults) {
  RunConfig rc = parse_run_config(kValid, "test.json");
  EXPECT_EQ(rc.model.hidden_size, 64);
  EXPECT_EQ(rc.model.ffn_hidden_size, 192);  // 8*64/3 = 170.7 -> nearest multiple of 64
  EXPECT_EQ(rc.train.precision_mode(), modeldef::Precision::fp16);
  EXPECT_EQ(rc.train.micro_batch_size, 2);
  EXPECT_DOUBLE_EQ(rc.model.deepnorm_alpha(), 2.0);  // (2N)^(1/2), N = 2
  EXPECT_EQ(rc.model.layernorm, modeldef::LayerNormPlacement::deepnorm);
  EXPECT_DOUBLE_EQ(rc.model.residual_alpha(), 2.0);
  EXPECT_DOUBLE_EQ(rc.model.init_beta(), 0.5);
}

// model.layernorm picks the placement; only deepnorm scales the residual and the init, and
// only sandwich adds parameters (two LNs per layer); the config names it back.
TEST(RunConfig, LayerNormPlacements) {
  const std::int64_t deepnorm_params = parse_run_config(kValid, "test.json").model.num_parameters();
  for (const char* name : {"post_ln", "pre_ln", "sandwich"}) {
    RunConfig rc =
        parse_run_config(kValid, "test.json", {fmt::format("model.layernorm=\"{}\"", name)});
    EXPECT_STREQ(modeldef::layernorm_placement_name(rc.model.layernorm), name);
    EXPECT_DOUBLE_EQ(rc.model.residual_alpha(), 1.0) << name;
    EXPECT_DOUBLE_EQ(rc.model.init_beta(), 1.0) << name;
    EXPECT_EQ(rc.model.to_json()["layernorm"], name);
    const std::int64_t extra = rc.model.has_sublayer_output_norms() ? 2 * 4 * 64 : 0;
    EXPECT_EQ(rc.model.num_parameters(), deepnorm_params + extra) << name;
  }
  const std::string e = error_of(kValid, {"model.layernorm=\"rmsnorm\""});
  EXPECT_NE(e.find("model.layernorm"), std::string::npos) << e;
  EXPECT_NE(e.find("sandwich"), std::string::npos) << e;  // lists the choices
}

// "auto" becomes bf16 exactly where the CPU multiplies bf16 natively, else fp32, and the
// config names the result (never "auto"), so logs and checkpoints say what ran.
TEST(RunConfig, AutoPrecisionIsSettledAtLoad) {
  RunConfig rc = parse_run_config(kValid, "test.json", {"train.precision=\"auto\""});
  const bool native = kernels::gemm16_path(DType::bf16) == kernels::Gemm16Path::native;
  EXPECT_EQ(rc.train.precision, native ? "bf16" : "fp32");
  EXPECT_EQ(rc.to_json()["train"]["precision"], rc.train.precision);
  kernels::set_gemm16_force_fp32(true);  // a CPU without bf16 GEMMs
  EXPECT_EQ(parse_run_config(kValid, "test.json", {"train.precision=\"auto\""}).train.precision,
            "fp32");
  kernels::set_gemm16_force_fp32(false);
  RunConfig cuda = parse_run_config(
      kValid, "test.json", {"train.precision=\"auto\"", "train.device=\"cuda\""});
  EXPECT_EQ(cuda.train.precision, "fp32");
}

TEST(RunConfig, SmallConfigHasTheBenchmarkShape) {
  RunConfig rc = load_run_config(std::string(GLM_SOURCE_DIR) + "/configs/small.json");
  EXPECT_EQ(rc.model.hidden_size, 512);
  EXPECT_EQ(rc.model.num_layers, 8);
  EXPECT_EQ(rc.model.ffn_hidden_size, 1408);  // 11 x 128: INT4 group 128 divides it
  EXPECT_EQ(rc.train.micro_batch_size, 8);
}

TEST(RunConfig, GpuConfigOf1_3BParameters) {
  RunConfig rc = load_run_config(std::string(GLM_SOURCE_DIR) + "/configs/1.3b.json");
  EXPECT_EQ(rc.train.device, "cuda");
  EXPECT_EQ(rc.train.precision, "fp16");
  EXPECT_EQ(rc.model.seq_length, 2048);
  EXPECT_NEAR(rc.model.num_parameters() / 1e9, 1.35, 0.01);
  EXPECT_EQ(rc.model.ffn_hidden_size % 128, 0);  // INT4 group 128 divides every input width
}

TEST(RunConfig, UnknownKeyIsRejectedByName) {
  std::string text = kValid;
  text.replace(text.find("\"seq_length\""), 0, "\"hiden_size\": 3, ");
  std::string e = error_of(text);
  EXPECT_NE(e.find("model.hiden_size: unknown key"), std::string::npos) << e;
  EXPECT_NE(error_of(R"({"model": {}, "trian": {}})").find("trian"), std::string::npos);
}

TEST(RunConfig, BadValuesNameTheirKey) {
  EXPECT_NE(error_of(kValid, {"train.precision=fp8"}).find("train.precision"), std::string::npos);
  EXPECT_NE(error_of(kValid, {"model.num_heads=5"}).find("model.num_heads"), std::string::npos);
  EXPECT_NE(error_of(kValid, {"model.hidden_dropout=1.5"}).find("model.hidden_dropout"),
            std::string::npos);
  EXPECT_NE(error_of(kValid, {"model.num_layers=\"two\""}).find("model.num_layers"),
            std::string::npos);
  EXPECT_NE(error_of("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(kValid, {"nodot=3"}).find("section.key=value"), std::string::npos);
}

TEST(RunConfig, ReportsEveryProblemAtOnce) {
  std::string e = error_of(kValid, {"model.num_layers=0", "train.recompute=some"});
  EXPECT_NE(e.find("model.num_layers"), std::string::npos) << e;
  EXPECT_NE(e.find("train.recompute"), std::string::npos) << e;
}

TEST(RunConfig, MissingFileIsAnInputErrorNamingIt) {
  try {
    load_run_config("/nonexistent/cfg.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cfg.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace glm::config
