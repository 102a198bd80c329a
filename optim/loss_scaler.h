// Dynamic loss scaling for fp16 training (docs/design.md section 3; GLM-130B's values).
//
// The loss is multiplied by scale() before backward; gradients are multiplied by
// inv_scale() (inside AdamW's fused pass). After backward the trainer reports whether any
// gradient was inf/NaN: update(found_inf) advances the state machine and returns true when
// the optimizer step must be skipped. Megatron-LM DynamicGradScaler semantics, exactly:
//   overflow: skip the step; growth_tracker = 0; hysteresis_tracker -= 1;
//             if hysteresis_tracker <= 0: scale = max(scale*backoff_factor, min_scale)
//   clean:    growth_tracker += 1; if growth_tracker == growth_interval:
//             growth_tracker = 0; hysteresis_tracker = hysteresis; scale *= growth_factor
// So with hysteresis 2 the first overflow only skips, the second halves the scale.
// A clean step does NOT restore the hysteresis budget, and a backoff does not either: after
// the first backoff every further overflow halves the scale again, until a growth (a full
// clean window) resets the tracker to `hysteresis`. (The tracker is kept at >= 0; Megatron
// lets it go negative, which behaves identically.)
//
// Fixed mode (fp32, or a constant scale): the scale never changes, and a step with non-finite
// gradients is still skipped and counted.
//
// collapsing(): the loss scale falling toward its minimum is a warning sign of an oncoming
// divergence. It is true when scale <= collapse_scale (default 2^3, i.e. 13 halvings below
// the initial 2^16), or when at least collapse_backoffs backoffs (default 4: scale down 16x)
// happened within the last collapse_window update() calls (default 1000, half a growth
// window, during which the scale could have grown at most once). Never in fixed mode.
#pragma once

#include <cstdint>
#include <vector>

#include "checkpoint/training_state.h"
#include "config/optim_config.h"

namespace glm::optim {

struct LossScalerConfig {
  bool dynamic = true;
  double initial_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;  // consecutive clean steps before growing
  int hysteresis = 2;                   // overflows tolerated before backing off
  double min_scale = 1.0;
  double collapse_scale = 8.0;          // collapsing() when scale <= this
  int collapse_backoffs = 4;            // ... or this many backoffs
  std::int64_t collapse_window = 1000;  // ... within this many update() calls

  // fp32 / constant-scale mode: scale fixed at `scale`.
  static LossScalerConfig fixed(double scale = 1.0);
  void validate() const;  // throws InputError naming the bad field
};

// The run config's loss scaling: dynamic from its optim.* values for fp16, else a fixed
// scale of 1.
LossScalerConfig loss_scaler_config(const config::OptimConfig& c, bool fp16);

class LossScaler {
 public:
  explicit LossScaler(LossScalerConfig config = {});

  double scale() const { return state_.scale; }
  float inv_scale() const;  // 1/scale as float (what the optimizer multiplies by)
  bool dynamic() const { return config_.dynamic; }

  // Advance after a backward; returns true when the step must be skipped (found_inf).
  bool update(bool found_inf);

  std::int64_t skipped_steps() const { return state_.skipped_steps; }
  std::int64_t clean_steps() const { return state_.clean_steps; }
  bool collapsing() const;

  const LossScalerConfig& config() const { return config_; }
  const checkpoint::LossScalerState& state() const { return state_; }
  void load_state(const checkpoint::LossScalerState& state);  // checkpoint resume
  void set_scale(double scale);                   // resume override of the loss scale

 private:
  LossScalerConfig config_;
  checkpoint::LossScalerState state_;
};

}  // namespace glm::optim
