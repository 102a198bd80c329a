#include "train/metrics.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/crc32c.h"
#include "core/error.h"
#include "core/progress.h"
#include "train/tensorboard/event_file_writer.h"

namespace glm::train {
namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

MetricsLog::MetricsLog(const std::string& log_dir, std::int64_t total_steps)
    : total_steps_(total_steps), started_(now_s()) {
  if (log_dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec) throw InputError(fmt::format("--log-dir {}: cannot create: {}", log_dir, ec.message()));
  path_ = (std::filesystem::path(log_dir) / "metrics.jsonl").string();
  out_.open(path_, std::ios::app);
  if (!out_) throw InputError(fmt::format("{}: cannot open for writing", path_));
  events_ = std::make_unique<tensorboard::EventFileWriter>(log_dir);
  spdlog::info("metrics: {} and TensorBoard events {} (CRC32C: {})", path_, events_->path(),
               crc32c_path());
}

MetricsLog::~MetricsLog() = default;


void MetricsLog::write(const nlohmann::json& j) {
  if (!out_.is_open()) return;
  out_ << j.dump() << '\n';
  out_.flush();  // a crash loses at most the line being written
}

void MetricsLog::log_step(const StepMetrics& m) {
  nlohmann::json by_kind = nlohmann::json::object();
  std::string by_kind_line;
  for (int k = 0; k < kMemoryKinds; ++k) {
    const std::string_view name = memory_kind_name(static_cast<MemoryKind>(k));
    by_kind[std::string(name)] = m.memory_gb_by[k];
    by_kind_line += fmt::format("{}{} {:.3f}", k ? ", " : "", name, m.memory_gb_by[k]);
  }
  if (first_step_ < 0) {
    first_step_ = m.step;
    started_ = now_s() - m.step_ms / 1e3;
    // Once: what the mem column's peak is made of (every line's is in metrics.jsonl).
    spdlog::info("memory by kind (each one's peak, GB): {}", by_kind_line);
  }
  double elapsed = now_s() - started_;
  double per_step = elapsed / std::max<std::int64_t>(1, m.step - first_step_ + 1);
  double eta = per_step * static_cast<double>(total_steps_ - m.step);
  spdlog::info(
      "step {:>6}/{} | loss {:.4f} | lr {:.3e} | gnorm {:.3f} | scale {:g} | skipped {} | "
      "{:.0f} tok/s | {:.0f} ms | {:.2f} TFLOP/s | MFU {:.1f}% | mem {:.2f} GB | {:.0f}% ETA {}",
      m.step, total_steps_, m.loss, m.lr, m.grad_norm, m.loss_scale, m.skipped, m.tokens_per_s,
      m.step_ms, m.tflops, 100 * m.mfu, m.memory_gb, 100.0 * m.step / std::max<std::int64_t>(1, total_steps_),
      format_duration(eta));
  nlohmann::json record = {{"step", m.step},           {"consumed_samples", m.consumed_samples},
                           {"loss", m.loss},           {"lr", m.lr},
                           {"grad_norm", m.grad_norm}, {"loss_scale", m.loss_scale},
                           {"skipped", m.skipped},     {"tokens_per_s", m.tokens_per_s},
                           {"step_ms", m.step_ms},     {"tflops", m.tflops},
                           {"mfu", m.mfu},             {"memory_gb", m.memory_gb},
                           {"memory_gb_by_kind", by_kind}, {"global_batch", m.global_batch}};
  auto object = [](const std::vector<std::pair<std::string, double>>& v) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, x] : v) o[k] = x;
    return o;
  };
  if (!m.grad_norm_by_group.empty()) record["grad_norm_by_group"] = object(m.grad_norm_by_group);
  if (!m.update_ratio_by_group.empty())
    record["update_ratio_by_group"] = object(m.update_ratio_by_group);
  if (m.max_attention_logit)
    record["max_attention_logit"] = {{"first_layer", (*m.max_attention_logit)[0]},
                                     {"last_layer", (*m.max_attention_logit)[1]}};
  if (m.dataset_samples.size() > 1) {
    nlohmann::json taken = nlohmann::json::object();
    for (const auto& [name, n] : m.dataset_samples) taken[name] = n;
    record["dataset_samples"] = taken;
  }
  write(record);
  if (events_) {
    std::vector<std::pair<std::string, double>> scalars{
        {"train/loss", m.loss},
        {"train/lr", m.lr},
        {"train/grad_norm", m.grad_norm},
        {"train/loss_scale", m.loss_scale},
        {"train/skipped", static_cast<double>(m.skipped)},
        {"train/tokens_per_s", m.tokens_per_s},
        {"train/step_ms", m.step_ms},
        {"train/tflops", m.tflops},
        {"train/mfu", m.mfu},
        {"train/consumed_samples", static_cast<double>(m.consumed_samples)},
        {"train/global_batch", static_cast<double>(m.global_batch)},
        {"mem/peak_gb", m.memory_gb}};
    for (int k = 0; k < kMemoryKinds; ++k)
      scalars.emplace_back(
          fmt::format("mem/{}_gb", memory_kind_name(static_cast<MemoryKind>(k))),
          m.memory_gb_by[k]);
    for (const auto& [group, x] : m.grad_norm_by_group)
      scalars.emplace_back("health/grad_norm/" + group, x);
    for (const auto& [group, x] : m.update_ratio_by_group)
      if (std::isfinite(x)) scalars.emplace_back("health/update_ratio/" + group, x);
    if (m.dataset_samples.size() > 1)
      for (const auto& [name, n] : m.dataset_samples)
        scalars.emplace_back("data/samples/" + name, static_cast<double>(n));
    if (m.max_attention_logit) {
      scalars.emplace_back("health/max_attention_logit/first_layer", (*m.max_attention_logit)[0]);
      scalars.emplace_back("health/max_attention_logit/last_layer", (*m.max_attention_logit)[1]);
    }
    events_->add_scalars(m.step, scalars);
  }
}

void MetricsLog::log_eval(std::int64_t step, double loss, std::int64_t tokens,
                          double bits_per_byte, const std::vector<EvalDataset>& datasets) {
  double ppl = std::exp(std::min(loss, 50.0));
  std::string per;
  for (const EvalDataset& d : datasets)
    per += fmt::format("{}{} {:.4f}", per.empty() ? " | " : ", ", d.name, d.loss);
  spdlog::info("eval  step {:>6} | held-out loss {:.4f} | perplexity {:.2f} | {:.4f} bits/byte "
               "| {} target tokens{}",
               step, loss, ppl, bits_per_byte, tokens, per);
  nlohmann::json record{{"step", step},
                        {"eval_loss", loss},
                        {"eval_ppl", ppl},
                        {"eval_bits_per_byte", bits_per_byte},
                        {"eval_tokens", tokens}};
  if (!datasets.empty()) {
    nlohmann::json by = nlohmann::json::object();
    for (const EvalDataset& d : datasets)
      by[d.name] = {{"loss", d.loss}, {"tokens", d.tokens}, {"bits_per_byte", d.bits_per_byte}};
    record["eval_datasets"] = by;
  }
  write(record);
  if (events_) {
    std::vector<std::pair<std::string, double>> scalars{
        {"eval/loss", loss},
        {"eval/ppl", ppl},
        {"eval/bits_per_byte", bits_per_byte},
        {"eval/tokens", static_cast<double>(tokens)}};
    for (const EvalDataset& d : datasets) {
      scalars.emplace_back("eval/" + d.name + "/loss", d.loss);
      scalars.emplace_back("eval/" + d.name + "/bits_per_byte", d.bits_per_byte);
    }
    events_->add_scalars(step, scalars);
  }
}

void MetricsLog::log_config(std::int64_t step, const nlohmann::json& config) {
  if (!events_) return;
  // Indented four spaces: Markdown shows it as a code block, keeping the JSON's layout.
  std::string text;
  std::string dumped = config.dump(2);
  std::size_t begin = 0;
  while (begin <= dumped.size()) {
    std::size_t end = dumped.find('\n', begin);
    if (end == std::string::npos) end = dumped.size();
    text += "    " + dumped.substr(begin, end - begin) + "\n";
    begin = end + 1;
  }
  events_->add_text(step, "config", text);
}

void MetricsLog::log_event(const nlohmann::json& event) { write(event); }

}  // namespace glm::train
