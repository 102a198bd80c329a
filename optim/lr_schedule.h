// Schedules as pure functions of how far training has got, so a resumed run recomputes
// exactly the values an uninterrupted one would have used (docs/design.md sections 2 and 5b).
//
// Learning rate, sample-based (Megatron OptimizerParamScheduler convention), n = samples
// consumed before the step, W = lr_warmup_samples, D = lr_decay_samples:
//   n <= W (W > 0):  lr_init + (lr - lr_init) * n / W          linear warm-up
//   style constant or D == 0:  lr
//   n > D:           lr_min
//   otherwise:       r = (n - W) / (D - W)
//                    cosine: lr_min + (lr - lr_min) * 0.5 * (1 + cos(pi * r))
//                    linear: lr_min + (lr - lr_min) * (1 - r)
// D counts from sample 0 with the warm-up included (Megatron's lr_decay_steps), so the
// decay itself spans D - W samples and ends at sample D; mid-decay (r = 1/2) is at
// n = (W + D)/2, where cosine gives (lr + lr_min)/2.
//
// Global batch-size ramp-up (Megatron RampupBatchsizeNumMicroBatches):
//   K = (global_batch_size - rampup_start) / rampup_increment   increments (exact division)
//   per_increment = rampup_samples / K                          samples per stage (real)
//   n > rampup_samples:  global_batch_size
//   otherwise:           rampup_start + floor(n / per_increment) * rampup_increment
// computed in integers as floor(n*K / rampup_samples), which is exact (Megatron divides in
// floating point). The caller must still make each value divisible by micro-batch x DP.
//
// EGS alpha (embedding gradient shrink, docs/design.md section 2): constant, or a linear ramp from
// alpha_init to alpha between two optimizer steps:
//   step <= begin: alpha_init;  step >= end: alpha;  in between: linear.
#pragma once

#include <cstdint>
#include <string>

#include "config/optim_config.h"

namespace glm::optim {

// The learning rate for a step taken after consuming `consumed_samples` samples.
double learning_rate(const config::OptimConfig& c, std::int64_t consumed_samples);

// The global batch size of the step taken after consuming `consumed_samples` samples.
std::int64_t global_batch_size(const config::BatchConfig& c, std::int64_t consumed_samples);

// alpha_e for optimizer step `step` (0-based).
double egs_alpha(const config::EgsSchedule& schedule, std::int64_t step);

}  // namespace glm::optim
