// Which stop signals the ranks of a run act on after a step. Every rank must stop at the
// same step (a checkpoint save is collective), so the ranks agree: if any rank received a
// stop signal, all stop, and each knows the union of the signals the ranks received.
//
//   stop_signals_ = agree_stop_signals(stop_signals_received(), world);
#pragma once

#include "parallel/communicator.h"
#include "train/signals.h"

namespace glm::train {

// local: the signals this rank received (0 for none). world: every rank of the run (null,
// or one rank: local is returned). A collective: every rank calls it after the same step.
StopSignals agree_stop_signals(StopSignals local, parallel::Communicator* world);

}  // namespace glm::train
