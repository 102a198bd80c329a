#include "data/text_bytes.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace glm::data {

std::int64_t target_text_bytes(const modeldef::Batch& batch,
                               std::span<const std::int32_t> bytes_per_id) {
  GLM_CHECK(batch.targets.device().is_cpu(), "target_text_bytes: targets must be in host memory");
  const std::int32_t* t = batch.targets.data<std::int32_t>();
  const auto V = static_cast<std::int64_t>(bytes_per_id.size());
  std::int64_t bytes = 0;
  for (std::int64_t i = 0; i < batch.targets.numel(); ++i) {
    if (t[i] < 0) continue;
    if (t[i] >= V)
      throw InputError(fmt::format("target id {} outside the tokenizer's {} pieces", t[i], V));
    bytes += bytes_per_id[t[i]];
  }
  return bytes;
}

double bits_per_byte(double loss_nats_sum, double bytes) {
  return bytes > 0 ? loss_nats_sum / std::numbers::ln2 / bytes : std::nan("");
}

}  // namespace glm::data
