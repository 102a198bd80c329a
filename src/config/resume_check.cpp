// The resume check (config/resume_check.h): which config keys may change when a run
// continues from a checkpoint, and the resume overrides.
#include "config/resume_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm::config {
namespace {

// "section.key" -> value for every key of a two-level config JSON.
std::map<std::string, nlohmann::json> flatten(const nlohmann::json& config) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& [section, obj] : config.items()) {
    if (!obj.is_object() || obj.empty()) {
      out[section] = obj;
      continue;
    }
    for (const auto& [key, v] : obj.items()) out[section + "." + key] = v;
  }
  return out;
}

// Run settings: how long, how often, where from and where to; not the math of the run. The
// precision is one too: every precision saves the fp32 master weights and moments, so a run
// may move between fp32, fp16 and bf16 (to debug an instability in fp32, say).
bool is_run_setting(const std::string& key) {
  static const std::set<std::string> keys = {
      "train.train_iters",   "train.log_interval", "train.eval_interval",    "train.eval_iters",
      "train.data_dir",      "train.recompute",    "train.micro_batch_size", "train.save_dir",
      "train.save_interval", "train.keep_last",    "train.device",
      "train.save_failure",  "train.precision",    "train.save_mode",
      "train.data",          "train.data_warmup_samples"};
  return keys.count(key) || key.rfind("spike_guard", 0) == 0 || key.rfind("resume", 0) == 0 ||
         key.rfind("parallel", 0) == 0;  // any checkpoint loads into any layout
}

}  // namespace

RunConfig reconcile_resume_config(const RunConfig& config, const nlohmann::json& saved,
                                  const std::string& meta_path, std::vector<std::string>& notes) {
  const ResumeConfig& over = config.resume;
  auto overridden = [&](const std::string& key) {
    return (key == "optim.lr" && over.lr) || (key == "optim.lr_min" && over.lr_min) ||
           (key.rfind("egs_schedule.", 0) == 0 && over.egs_alpha);
  };
  auto ours = flatten(config.to_json()), theirs = flatten(saved);
  std::set<std::string> keys;
  for (const auto& [k, v] : ours) keys.insert(k);
  for (const auto& [k, v] : theirs) keys.insert(k);
  std::vector<std::string> problems;
  for (const auto& key : keys) {
    auto a = ours.find(key), b = theirs.find(key);
    const std::string now = a == ours.end() ? "(absent)" : a->second.dump();
    const std::string was = b == theirs.end() ? "(absent)" : b->second.dump();
    if (now == was || (a != ours.end() && b != theirs.end() && a->second == b->second)) continue;
    if (is_run_setting(key)) {
      notes.push_back(fmt::format("{}: {} -> {} (run setting)", key, was, now));
    } else if (!overridden(key)) {
      const char* hint = key == "optim.lr"                    ? " (change it with resume.lr)"
                         : key == "optim.lr_min"              ? " (change it with resume.lr_min)"
                         : key.rfind("egs_schedule.", 0) == 0 ? " (change it with resume.egs_alpha)"
                                                              : "";
      problems.push_back(fmt::format("{}: config {}, checkpoint {}{}", key, now, was, hint));
    }
  }
  if (!problems.empty())
    throw InputError(fmt::format(
        "{}: the run config does not match the checkpoint's ({} key{}):\n  {}", meta_path,
        problems.size(), problems.size() == 1 ? "" : "s", fmt::join(problems, "\n  ")));

  RunConfig out = config;
  if (over.lr) {
    notes.push_back(
        fmt::format("resume override: optim.lr {} -> {:g}", theirs["optim.lr"].dump(), *over.lr));
    out.optim.lr = *over.lr;
  }
  if (over.lr_min) {
    notes.push_back(fmt::format("resume override: optim.lr_min {} -> {:g}",
                                theirs["optim.lr_min"].dump(), *over.lr_min));
    out.optim.lr_min = *over.lr_min;
  }
  if (over.egs_alpha) {
    notes.push_back(fmt::format("resume override: egs_schedule {} -> constant alpha {:g}",
                                saved.value("egs_schedule", nlohmann::json()).dump(),
                                *over.egs_alpha));
    out.egs_schedule = config::EgsSchedule::constant(*over.egs_alpha);
  }
  return out;
}

}  // namespace glm::config
