#include "train/stop_consensus.h"

namespace glm::train {

StopSignals agree_stop_signals(StopSignals local, parallel::Communicator* world) {
  if (!world || world->size() <= 1) return local;
  double got[3] = {};  // how many ranks received each signal
  for (int b = 0; b < 3; ++b) got[b] = (local >> b) & 1u;
  world->all_reduce_sum(got);
  StopSignals all = local;
  for (int b = 0; b < 3; ++b)
    if (got[b] > 0) all |= 1u << b;
  return all;
}

}  // namespace glm::train
