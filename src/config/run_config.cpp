#include "config/run_config.h"

#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "config/auto_precision.h"
#include "core/error.h"
#include "core/json_fields.h"
#include "modeldef/precision.h"

namespace glm::config {

modeldef::Precision TrainConfig::precision_mode() const {
  return modeldef::parse_precision(precision, "train.precision");
}

namespace {

// Every section, without the optional train.data keys.
nlohmann::json sections_json(const RunConfig& rc) {
  const TrainConfig& train = rc.train;
  return {{"model", rc.model.to_json()},
          {"train",
           {{"micro_batch_size", train.micro_batch_size},
            {"precision", train.precision},
            {"recompute", train.recompute},
            {"device", train.device},
            {"seed", train.seed},
            {"train_iters", train.train_iters},
            {"log_interval", train.log_interval},
            {"eval_interval", train.eval_interval},
            {"eval_iters", train.eval_iters},
            {"data_dir", train.data_dir},
            {"save_dir", train.save_dir},
            {"save_interval", train.save_interval},
            {"keep_last", train.keep_last},
            {"save_failure", train.save_failure},
            {"save_mode", train.save_mode}}},
          {"optim", rc.optim.to_json()},
          {"batch", rc.batch.to_json()},
          {"objective", rc.objective.to_json()},
          {"spike_guard", rc.spike_guard.to_json()},
          {"egs_schedule", rc.egs_schedule.to_json()},
          {"resume", rc.resume.to_json()},
          {"parallel", rc.parallel.to_json()}};
}

}  // namespace

std::vector<data::BlendSource> TrainConfig::datasets() const {
  if (!data.empty()) return data;
  return {{dataset_name(data_dir), data_dir, 1.0}};
}

std::string dataset_name(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const std::size_t slash = d.rfind('/');
  return slash == std::string::npos ? d : d.substr(slash + 1);
}

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = sections_json(*this);
  // Written only when set, so the configs of runs without a blend compare as before.
  if (!train.data.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const data::BlendSource& s : train.data)
      a.push_back({{"name", s.name}, {"path", s.path}, {"weight", s.weight}});
    j["train"]["data"] = a;
  }
  if (train.data_warmup_samples > 0) j["train"]["data_warmup_samples"] = train.data_warmup_samples;
  return j;
}

nlohmann::json ParallelConfig::to_json() const {
  return {{"dp", dp}, {"tp", tp}, {"pp", pp}, {"zero", zero},
          {"pipeline_first_last_layers", pipeline_first_last_layers}};
}

nlohmann::json ResumeConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (lr) j["lr"] = *lr;
  if (lr_min) j["lr_min"] = *lr_min;
  if (loss_scale) j["loss_scale"] = *loss_scale;
  if (egs_alpha) j["egs_alpha"] = *egs_alpha;
  auto ranges = [](const std::vector<SkipRange>& rs) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : rs) a.push_back({r.begin, r.end});
    return a;
  };
  if (!skip_iters.empty()) j["skip_iters"] = ranges(skip_iters);
  if (!skip_samples.empty()) j["skip_samples"] = ranges(skip_samples);
  return j;
}

// The "resume" section: optional value overrides and [[begin, end], ...] skip ranges.
ResumeConfig ResumeConfig::from_json(const nlohmann::json& j, const std::string& source) {
  ResumeConfig r;
  JsonFields f(j, "resume", source);
  auto optional = [&](const char* key, std::optional<double>& out, double lo, double hi) {
    nlohmann::json v = f.object(key);
    if (v.is_null()) return;
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi)
      return f.error(key,
                     fmt::format("expected a number in [{:g}, {:g}], got {}", lo, hi, v.dump()));
    out = v.get<double>();
  };
  optional("lr", r.lr, 0.0, 1.0);
  optional("lr_min", r.lr_min, 0.0, 1.0);
  optional("loss_scale", r.loss_scale, 1e-30, 1e30);
  optional("egs_alpha", r.egs_alpha, 0.0, 1.0);
  auto ranges = [&](const char* key, std::vector<SkipRange>& out) {
    nlohmann::json a = f.object(key);
    if (a.is_null()) return;
    const std::string want = "a list of [begin, end) pairs of non-negative integers, begin < end";
    if (!a.is_array()) return f.error(key, fmt::format("expected {}, got {}", want, a.dump()));
    for (const auto& p : a) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() ||
          !p[1].is_number_integer() || p[0].get<std::int64_t>() < 0 ||
          p[0].get<std::int64_t>() >= p[1].get<std::int64_t>())
        return f.error(key, fmt::format("expected {}, got {}", want, p.dump()));
      out.push_back({p[0].get<std::int64_t>(), p[1].get<std::int64_t>()});
    }
  };
  ranges("skip_iters", r.skip_iters);
  ranges("skip_samples", r.skip_samples);
  throw_if_problems(f.finish(), source);
  return r;
}

namespace {


// "section.key=value" (or "section.object.key=value" for a nested object such as
// spike_guard.recovery): value parsed as JSON when it is valid JSON, as a string otherwise.
void apply_override(nlohmann::json& doc, const std::string& kv, const std::string& source) {
  auto eq = kv.find('=');
  auto dot = kv.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq)
    throw InputError(fmt::format("--set '{}': expected section.key=value", kv));
  std::string path = kv.substr(0, eq);
  std::string value = kv.substr(eq + 1);
  nlohmann::json v = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) v = value;
  nlohmann::json* at = &doc;
  for (std::size_t begin = 0;;) {
    const std::size_t end = path.find('.', begin);
    const std::string part = path.substr(begin, end == std::string::npos ? end : end - begin);
    if (part.empty()) throw InputError(fmt::format("--set '{}': an empty key in '{}'", kv, path));
    if (!at->is_null() && !at->is_object())
      throw InputError(fmt::format("--set '{}': '{}' is not an object", kv, path.substr(0, begin - 1)));
    at = &(*at)[part];
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  *at = v;
}

}  // namespace

RunConfig parse_run_config(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  if (!doc.is_object()) throw InputError(fmt::format("{}: the top level must be a JSON object", source));
  for (const auto& kv : overrides) apply_override(doc, kv, source);

  RunConfig rc;
  rc.source = source;
  std::vector<std::string> problems;
  JsonFields top(doc, "(top level)", source);
  nlohmann::json model_j = top.object("model"), train_j = top.object("train");
  nlohmann::json optim_j = top.object("optim"), batch_j = top.object("batch");
  nlohmann::json objective_j = top.object("objective"), spike_j = top.object("spike_guard");
  nlohmann::json egs_j = top.object("egs_schedule"), resume_j = top.object("resume");
  nlohmann::json parallel_j = top.object("parallel");
  for (const auto& p : top.finish()) problems.push_back(p);
  // Each section reports its own problems; collect them all before failing.
  auto section = [&](auto&& parse) {
    try {
      parse();
    } catch (const InputError& e) {
      problems.push_back(e.what());
    }
  };
  section([&] { rc.optim = config::OptimConfig::from_json(optim_j, source); });
  section([&] { rc.batch = config::BatchConfig::from_json(batch_j, source); });
  section([&] { rc.objective = data::CollatorConfig::from_json(objective_j, source); });
  section([&] { rc.spike_guard = config::SpikeGuardConfig::from_json(spike_j, source); });
  if (model_j.is_null()) problems.push_back(fmt::format("{}: missing section 'model'", source));

  section([&] { rc.model = modeldef::ModelConfig::from_json(model_j, source); });
  rc.egs_schedule = config::EgsSchedule::constant(rc.model.embedding_grad_shrink);
  if (!egs_j.is_null())
    section([&] { rc.egs_schedule = config::EgsSchedule::from_json(egs_j, source); });

  section([&] { rc.resume = ResumeConfig::from_json(resume_j, source); });

  if (!parallel_j.is_null()) {
    JsonFields pj(parallel_j, "parallel", source);
    pj.get("dp", rc.parallel.dp, 0, 1 << 20);
    pj.get("tp", rc.parallel.tp, 1, 1 << 10);
    pj.get("pp", rc.parallel.pp, 1, 1 << 10);
    pj.get("zero", rc.parallel.zero);
    pj.get("pipeline_first_last_layers", rc.parallel.pipeline_first_last_layers, -1, 1 << 20);
    for (const auto& p : pj.finish()) problems.push_back(p);
  }

  JsonFields t(train_j, "train", source);
  t.get("micro_batch_size", rc.train.micro_batch_size, 1, 1 << 20);
  t.get("precision", rc.train.precision, {"fp32", "fp16", "bf16", "auto"});
  t.get("recompute", rc.train.recompute, {"none", "full"});
  t.get("device", rc.train.device, {"cpu", "cuda"});
  t.get("seed", rc.train.seed, 0, kMaxSeed);
  t.get("train_iters", rc.train.train_iters, 1, kMaxTrainSteps);
  t.get("log_interval", rc.train.log_interval, 1, 1 << 30);
  t.get("eval_interval", rc.train.eval_interval, 0, 1 << 30);
  t.get("eval_iters", rc.train.eval_iters, 0, 1 << 20);
  t.get("data_dir", rc.train.data_dir, {});
  t.get("data_warmup_samples", rc.train.data_warmup_samples, 0, std::int64_t{1} << 50);
  if (const nlohmann::json blend = t.object("data"); !blend.is_null()) {
    if (!blend.is_array() || blend.empty()) {
      t.error("data", "must be a non-empty array of {\"path\": DIR, \"weight\": W}");
    } else {
      for (std::size_t i = 0; i < blend.size(); ++i) {
        const std::string where = fmt::format("train.data[{}]", i);
        if (!blend[i].is_object()) {
          t.error("data", fmt::format("entry {} is not an object", i));
          continue;
        }
        JsonFields e(blend[i], where, source);
        data::BlendSource src;
        src.weight = -1;
        e.get("path", src.path, {});
        e.get("weight", src.weight, 0.0, 1e300);
        e.get("name", src.name, {});
        if (src.path.empty()) e.error("path", "missing: the dataset's glm-preprocess output directory");
        if (!(src.weight > 0)) e.error("weight", "missing or not positive");
        if (src.name.empty()) src.name = dataset_name(src.path);
        for (const auto& p : e.finish()) problems.push_back(p);
        rc.train.data.push_back(std::move(src));
      }
    }
    for (std::size_t i = 0; i < rc.train.data.size(); ++i)
      for (std::size_t k = 0; k < i; ++k)
        if (rc.train.data[i].name == rc.train.data[k].name)
          t.error("data", fmt::format("two datasets named '{}' (entries {} and {}): give each a "
                                      "distinct \"name\"",
                                      rc.train.data[i].name, k, i));
    if (!rc.train.data_dir.empty())
      t.error("data", fmt::format("given with train.data_dir \"{}\" (or --data): name the "
                                  "datasets in one of them",
                                  rc.train.data_dir));
  }
  t.get("save_dir", rc.train.save_dir, {});
  t.get("save_interval", rc.train.save_interval, 0, kMaxTrainSteps);
  t.get("keep_last", rc.train.keep_last, 0, 1 << 20);
  t.get("save_failure", rc.train.save_failure, {"stop", "continue"});
  t.get("save_mode", rc.train.save_mode, {"sync", "async"});
  // "auto" is settled here, so the run, its log and its checkpoints name what it trains in.
  if (rc.train.precision == "auto")
    rc.train.precision = std::string(modeldef::precision_name(
        auto_precision(rc.train.device == "cuda" ? Device::cuda() : Device::cpu())));
  if (rc.batch.global_batch_size % rc.train.micro_batch_size != 0)
    t.error("micro_batch_size", fmt::format("{} does not divide batch.global_batch_size {}",
                                            rc.train.micro_batch_size, rc.batch.global_batch_size));
  if (rc.batch.rampup() && (rc.batch.rampup_start % rc.train.micro_batch_size != 0 ||
                            rc.batch.rampup_increment % rc.train.micro_batch_size != 0))
    t.error("micro_batch_size", "must divide batch.rampup_start and batch.rampup_increment");
  for (const auto& p : t.finish()) problems.push_back(p);
  throw_if_problems(problems, source);
  return rc;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: cannot open config file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_run_config(ss.str(), path, overrides);
}

}  // namespace glm::config
