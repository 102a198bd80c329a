#include "train/stop_consensus.h"

namespace glm::train {

int agree_stop_signal(int local, parallel::Communicator* world) {
  if (!world || world->size() <= 1) return local;
  double s[2] = {static_cast<double>(local != 0), static_cast<double>(local)};
  world->all_reduce_sum(s);
  if (s[0] > 0 && !local) return static_cast<int>(s[1] / s[0]);
  return local;
}

}  // namespace glm::train
