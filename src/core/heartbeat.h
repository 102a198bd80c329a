// What this process is doing, for the hang watchdog (train/hang_watchdog.h): the code marks
// each phase of a step as it enters it (the model marks every layer), and the watchdog
// aborts the job when the marks stop. A mark is two relaxed atomic stores: cheap enough for
// every layer of every micro-batch.
//
//   heartbeat(Phase::forward, layer);     // entering layer `layer`'s forward
#pragma once

#include <cstdint>

namespace glm {

enum class Phase : int { setup, data, forward, backward, reduction, optimizer, save, evaluation };
const char* phase_name(Phase p);

void heartbeat(Phase phase, int detail = -1);  // detail: the layer, or -1

struct HeartbeatState {
  Phase phase = Phase::setup;
  int detail = -1;
  double seconds_since = 0;  // since the last mark
};
HeartbeatState heartbeat_state();

}  // namespace glm
