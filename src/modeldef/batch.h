// One micro-batch as the model consumes it (produced by the GLM collator in data/).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::modeldef {

struct Batch {
  Tensor tokens;                   // i32 [B, T]
  Tensor positions;                // i32 [B, T]: RoPE positions (docs/design.md section 2)
  Tensor targets;                  // i32 [B, T]: next-token targets, -1 where there is no loss
  Tensor prefix_len;               // i32 [B]: P, the bidirectional context length
  Tensor valid_len;                // i32 [B]: L, positions >= L are padding
  std::int64_t sample_offset = 0;  // global index of sample 0 (dropout coordinates)

  int batch_size() const { return static_cast<int>(tokens.size(0)); }
  int seq_len() const { return static_cast<int>(tokens.size(1)); }
  std::int64_t num_targets() const;  // positions with target >= 0
};

}  // namespace glm::modeldef
