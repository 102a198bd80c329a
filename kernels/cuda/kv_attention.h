// The CUDA backend of kernels::kv_attention_forward (kernels/kv_attention.h, which has the
// math and checks the arguments): the launch limits, then the launchers of
// kv_attention_kernels.cu on the current stream.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace glm::kernels::cuda {

void kv_attention_forward(Tensor& ctx, const Tensor& qkv, Tensor& K, Tensor& V, int t0,
                          int prefix_len, int layer_number);

// The most cached keys one (query, head) block can hold the scores of, for head dim d on
// the current device (about 58000 on an H100 at d = 64).
std::int64_t kv_attention_max_keys(std::int64_t d);

}  // namespace glm::kernels::cuda
