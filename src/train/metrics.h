// Training metrics: one line per logged step on the console (spdlog, rank 0) and the same
// numbers as one JSON object per line in <log_dir>/metrics.jsonl and as TensorBoard scalars
// in <log_dir>/events.out.tfevents.* (docs/design.md section 10). Tags: train/<key> for the step
// record, health/grad_norm/<group> for the training-health signals, eval/loss, eval/ppl, eval/tokens, mem/peak_gb, and the resolved config as text.
#pragma once

#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/allocator.h"

namespace glm::tensorboard {
class EventFileWriter;
}

namespace glm::train {

struct StepMetrics {
  std::int64_t step = 0;
  std::int64_t consumed_samples = 0;
  double loss = 0;          // mean over the interval's accepted steps
  double lr = 0;
  double grad_norm = 0;
  double loss_scale = 1;
  std::int64_t skipped = 0;  // skipped steps so far (overflow or spike guard)
  double tokens_per_s = 0;
  double step_ms = 0;
  double tflops = 0;         // model TFLOP/s per device
  double mfu = 0;            // fraction of the device peak
  double memory_gb = 0;      // peak host (or device) memory
  // Each category's own peak (core/allocator.h MemoryKind order): parameters, gradients,
  // master weights, optimizer moments, saved activations, workspace.
  std::array<double, kMemoryKinds> memory_gb_by{};
  int global_batch = 0;
  // Training health of the logged step, per parameter group (optim/training_health.h):
  // (group name, gradient norm) and (group name, update ratio |dW| / |W|; NaN: none).
  std::vector<std::pair<std::string, double>> grad_norm_by_group;
  std::vector<std::pair<std::string, double>> update_ratio_by_group;
  // The largest attention logit of the first and the last layer (absent: not measured).
  std::optional<std::array<double, 2>> max_attention_logit;
  // (dataset name, samples it has given so far): each dataset's share of consumed_samples.
  std::vector<std::pair<std::string, std::int64_t>> dataset_samples;
};

// One dataset's held-out figures in a blended run's evaluation.
struct EvalDataset {
  std::string name;
  double loss = 0;
  std::int64_t tokens = 0;
  double bits_per_byte = 0;
};

class MetricsLog {
 public:
  // Creates log_dir and opens metrics.jsonl for appending (a resumed run continues it).
  // An empty log_dir writes no file (data-parallel ranks other than 0).
  MetricsLog(const std::string& log_dir, std::int64_t total_steps);
  ~MetricsLog();

  void log_step(const StepMetrics& m);
  // `datasets`: a blend's per-dataset figures (empty for one dataset).
  void log_eval(std::int64_t step, double loss, std::int64_t tokens, double bits_per_byte,
                const std::vector<EvalDataset>& datasets = {});
  void log_event(const nlohmann::json& event);  // anything else worth a record
  // The resolved run config, as a TensorBoard text summary (metrics.jsonl has it in the
  // start event).
  void log_config(std::int64_t step, const nlohmann::json& config);

  const std::string& path() const { return path_; }

 private:
  void write(const nlohmann::json& j);
  std::string path_;
  std::ofstream out_;
  std::unique_ptr<tensorboard::EventFileWriter> events_;
  std::int64_t total_steps_;
  double started_ = 0;  // seconds, steady clock
  std::int64_t first_step_ = -1;
};

}  // namespace glm::train
