// The resume check: the config of a run about to continue from a checkpoint against the
// config the checkpoint was saved with, and the resume overrides (ResumeConfig) applied.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/run_config.h"

namespace glm::config {

// Run settings (train.train_iters, intervals, data_dir, data (the blend's weights: the
// trainer checks its datasets), micro_batch_size, recompute, save
// settings, spike_guard, resume) may differ; optim.lr, optim.lr_min and egs_schedule may
// differ only through resume.lr / resume.lr_min / resume.egs_alpha; everything else (model,
// precision, seed, the rest of optim, batch, objective) must match, or an InputError names
// meta_path and every differing key. Returns config with the resume overrides applied;
// `notes` receives one line per override used and per run setting changed.
RunConfig reconcile_resume_config(const RunConfig& config, const nlohmann::json& saved,
                                  const std::string& meta_path, std::vector<std::string>& notes);

}  // namespace glm::config
