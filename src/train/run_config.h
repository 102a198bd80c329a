// A run's configuration file: {"model": {...}, "train": {...}} (configs/*.json).
//
// Each section is a small typed struct validated once; every problem in the file is
// reported together, each naming its key ("train.precision: 'fp8' is not one of ...").
// `--set section.key=value` overrides are applied to the JSON before validation, so they
// are checked exactly like the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/glm_model.h"
#include "model/model_config.h"

namespace glm::train {

struct TrainConfig {
  int micro_batch_size = 8;
  std::string precision = "fp32";  // fp32 | fp16
  std::string recompute = "none";  // none | full
  std::int64_t seed = 1234;

  model::Precision precision_mode() const;
  model::Recompute recompute_mode() const;
};

struct RunConfig {
  model::ModelConfig model;
  TrainConfig train;
  std::string source;  // the file it came from

  model::ModelOptions model_options() const;
  nlohmann::json to_json() const;
};

// Parses a JSON document (source names it in messages) and validates it.
RunConfig parse_run_config(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides = {});
// Reads a file; a missing or unreadable file is an InputError naming it.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace glm::train
