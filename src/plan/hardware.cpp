#include "plan/hardware.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/gpu_datasheet.h"

#ifndef GLM_PLAN_SOURCE_DIR
#define GLM_PLAN_SOURCE_DIR "."
#endif

namespace glm::plan {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSources = {"datasheet", "measured", "assumed"};

// {"datasheet": CARD, "note": text}: the peak of `key` as core/gpu_datasheet.h states it for
// CARD, the table the MFU of a CUDA run uses, so a preset cannot drift from it.
Figure datasheet_figure(const nlohmann::json& f, const std::string& key,
                        const std::string& source) {
  const bool fp16 = key == "peak_tflops_16bit";
  if (!fp16 && key != "peak_tflops_fp32")
    throw InputError(fmt::format("{}: '{}' cannot name a datasheet (only peak_tflops_16bit and "
                                 "peak_tflops_fp32 can)",
                                 source, key));
  const nlohmann::json& name = f.at("datasheet");
  const GpuDatasheet* card =
      name.is_string() ? find_gpu_datasheet(name.get<std::string>()) : nullptr;
  if (!card || (f.contains("value") && !f.at("value").is_null())) {
    std::vector<std::string> cards;
    for (const GpuDatasheet& c : gpu_datasheets()) cards.emplace_back(c.card);
    throw InputError(fmt::format("{}: '{}.datasheet' must name one of {} and come without a "
                                 "value, got {}",
                                 source, key, fmt::join(cards, ", "), f.dump()));
  }
  return Figure{fp16 ? card->tflops_16bit : card->tflops_fp32, "datasheet",
                f.value("note", std::string())};
}

Figure read_figure(const nlohmann::json& j, const std::string& key, const std::string& source,
                   double lo, double hi) {
  if (!j.contains(key))
    throw InputError(
        fmt::format("{}: '{}' is missing (an object with value, source, note)", source, key));
  const nlohmann::json& f = j.at(key);
  if (f.is_object() && f.contains("datasheet")) return datasheet_figure(f, key, source);
  if (!f.is_object() || !f.contains("value") || !f.at("value").is_number() ||
      !f.contains("source") || !f.at("source").is_string())
    throw InputError(
        fmt::format("{}: '{}' must be {{\"value\": number, \"source\": \"{}\", "
                    "\"note\": text}}",
                    source, key, fmt::join(kSources, "|")));
  Figure out{f.at("value").get<double>(), f.at("source").get<std::string>(),
             f.value("note", std::string())};
  if (std::find(kSources.begin(), kSources.end(), out.source) == kSources.end())
    throw InputError(fmt::format("{}: '{}.source' is '{}', not one of {}", source, key, out.source,
                                 fmt::join(kSources, ", ")));
  if (!(out.value >= lo && out.value <= hi))
    throw InputError(
        fmt::format("{}: '{}.value' {} is outside [{}, {}]", source, key, out.value, lo, hi));
  return out;
}

}  // namespace

std::vector<std::pair<std::string, const Figure*>> Hardware::figures() const {
  return {{"peak_tflops_16bit", &peak_tflops_16bit},
          {"peak_tflops_fp32", &peak_tflops_fp32},
          {"hbm_gib", &hbm_gib},
          {"reserved_gib", &reserved_gib},
          {"hbm_gbs", &hbm_gbs},
          {"nvlink_gbs", &nvlink_gbs},
          {"network_gbs", &network_gbs},
          {"gpus_per_node", &gpus_per_node},
          {"gemm_efficiency", &gemm_efficiency}};
}

Hardware parse_hardware(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object", source));
  Hardware hw;
  hw.file = source;
  hw.name = j.value("name", fs::path(source).stem().string());
  const std::string kind = j.value("kind", std::string("gpu"));
  if (kind != "gpu" && kind != "cpu")
    throw InputError(fmt::format("{}: 'kind' is '{}', not gpu or cpu", source, kind));
  hw.cuda = kind == "gpu";
  hw.peak_tflops_16bit = read_figure(j, "peak_tflops_16bit", source, 1e-3, 1e6);
  hw.peak_tflops_fp32 = read_figure(j, "peak_tflops_fp32", source, 1e-3, 1e6);
  hw.hbm_gib = read_figure(j, "hbm_gib", source, 1e-3, 1e6);
  hw.reserved_gib = read_figure(j, "reserved_gib", source, 0, 1e6);
  hw.hbm_gbs = read_figure(j, "hbm_gbs", source, 1e-3, 1e7);
  hw.nvlink_gbs = read_figure(j, "nvlink_gbs", source, 1e-3, 1e7);
  hw.network_gbs = read_figure(j, "network_gbs", source, 1e-3, 1e7);
  hw.gpus_per_node = read_figure(j, "gpus_per_node", source, 1, 1 << 16);
  hw.gemm_efficiency = read_figure(j, "gemm_efficiency", source, 1e-3, 1.0);
  if (hw.reserved_gib.value >= hw.hbm_gib.value)
    throw InputError(fmt::format("{}: reserved_gib {} leaves no memory of hbm_gib {}", source,
                                 hw.reserved_gib.value, hw.hbm_gib.value));
  for (const auto& [key, _] : j.items())
    if (key != "name" && key != "description" && key != "kind") {
      bool known = false;
      for (const auto& [name, f] : hw.figures()) known = known || name == key;
      if (!known) throw InputError(fmt::format("{}: unknown key '{}'", source, key));
    }
  return hw;
}

Hardware load_hardware(const std::string& name_or_file) {
  std::vector<std::string> tried;
  fs::path path = name_or_file;
  if (!fs::exists(path)) {
    const std::string file = "configs/hardware/" + name_or_file + ".json";
    std::vector<fs::path> roots;
    if (const char* env = std::getenv("GLM_SOURCE_DIR")) roots.emplace_back(env);
    roots.emplace_back(".");
    roots.emplace_back(GLM_PLAN_SOURCE_DIR);
    path.clear();
    for (const fs::path& r : roots) {
      tried.push_back((r / file).string());
      if (fs::exists(tried.back())) {
        path = tried.back();
        break;
      }
    }
    if (path.empty())
      throw InputError(
          fmt::format("--hardware {}: neither a file nor a known machine (looked "
                      "for {})",
                      name_or_file, fmt::join(tried, ", ")));
  }
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: cannot read", path.string()));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
  return parse_hardware(j, path.string());
}

}  // namespace glm::plan
