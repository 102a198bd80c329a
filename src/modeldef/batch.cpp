#include "modeldef/batch.h"

namespace glm::modeldef {

std::int64_t Batch::num_targets() const {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < targets.numel(); ++i) n += targets.data<std::int32_t>()[i] >= 0;
  return n;
}

}  // namespace glm::modeldef
