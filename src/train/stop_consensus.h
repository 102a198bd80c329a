// Which stop signal the ranks of a run act on after a step. Every rank must stop at the
// same step (a checkpoint save is collective), so the ranks agree: if any rank received a
// stop signal, all stop; a rank that received none takes the signal the others got (under
// mpirun all get the same one).
//
//   stop_signal_ = agree_stop_signal(stop_signal_received(), world);
#pragma once

#include "parallel/communicator.h"

namespace glm::train {

// local: the signal this rank received (0 for none). world: every rank of the run (null,
// or one rank: local is returned). A collective: every rank calls it after the same step.
int agree_stop_signal(int local, parallel::Communicator* world);

}  // namespace glm::train
