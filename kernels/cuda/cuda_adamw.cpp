#include "kernels/cuda/cuda_adamw.h"

#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/float_kind.h"

namespace glm::kernels::cuda {

std::vector<AdamWChunk> adamw_chunks(std::span<const AdamWSegment> segments) {
  std::vector<AdamWChunk> out;
  std::int64_t expect = 0;
  for (const AdamWSegment& s : segments) {
    GLM_CHECK(s.begin == expect && s.end >= s.begin,
              "adamw_chunks: segments must tile [0, n) in order; got [{}, {}) after {}", s.begin,
              s.end, expect);
    for (std::int64_t b = s.begin; b < s.end; b += kAdamWChunk)
      out.push_back({b, std::min(s.end, b + kAdamWChunk), s.decay ? 1 : 0});
    expect = s.end;
  }
  return out;
}

Tensor upload_adamw_chunks(std::span<const AdamWSegment> segments, std::int64_t& num_chunks) {
  const std::vector<AdamWChunk> chunks = adamw_chunks(segments);
  num_chunks = static_cast<std::int64_t>(chunks.size());
  const std::int64_t bytes = std::max<std::int64_t>(1, num_chunks * sizeof(AdamWChunk));
  Tensor table = Tensor::empty({bytes}, DType::u8, Device::cuda(current_device()));
  if (num_chunks > 0)
    check(cudaMemcpy(table.raw(), chunks.data(), num_chunks * sizeof(AdamWChunk),
                     cudaMemcpyHostToDevice),
          "cudaMemcpy(AdamW chunks)");
  return table;
}

void adamw_update(Tensor& p, Tensor& m, Tensor& v, const Tensor& grad, const Tensor& chunks,
                  std::int64_t num_chunks, const AdamWStepConstants& c, Tensor* rounded) {
  check_launch(launch_adamw(p.data<float>(), m.data<float>(), v.data<float>(), grad.data<float>(),
                            float_out(rounded), static_cast<const AdamWChunk*>(chunks.raw()),
                            num_chunks, c, current_stream()),
               "cuda::adamw_update");
}

}  // namespace glm::kernels::cuda
