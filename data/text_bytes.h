// Bits per UTF-8 byte of held-out text: the loss measure that does not depend on the
// tokenizer (The Pile's and most LM evaluations'), so models with different vocabularies
// compare. bits/byte = (sum of target-token losses in nats) / ln 2 / (UTF-8 bytes those
// targets stand for). Targets that stand for no text (<eop>) add loss but no bytes.
//
//   const auto per_id = tokenizer.text_bytes_per_id();
//   bytes += target_text_bytes(batch, per_id);  ...  bits_per_byte(loss_sum, bytes)
#pragma once

#include <cstdint>
#include <span>

#include "modeldef/batch.h"

namespace glm::data {

// The UTF-8 bytes of the batch's target tokens (positions with target >= 0). InputError
// for a target id outside bytes_per_id.
std::int64_t target_text_bytes(const modeldef::Batch& batch,
                               std::span<const std::int32_t> bytes_per_id);

// NaN when bytes is 0.
double bits_per_byte(double loss_nats_sum, double bytes);

}  // namespace glm::data
