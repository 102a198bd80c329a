// x rounded to int8 per block of 32 for QuantActivations::int8 (kernels/quant.h): the
// definition (round_x_int8, used by every path and by the tests' reference) and the layout
// the VNNI row kernels read (quantize_x_for_vnni, quant_rows.h).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/quant_rows.h"
#include "kernels/quant.h"

namespace glm::kernels {
namespace cpu {

namespace {

// One block: sx = absmax / 127 and q[i] = round_half_even(x[i] / sx) (0 for an all-zero
// block). x * (127 / absmax) <= 127 up to one fp32 rounding, so the clamp never moves a
// value by more than that rounding.
float quantize_block(std::int8_t* q, const float* x, std::int64_t len) {
  float amax = 0.f;
  for (std::int64_t i = 0; i < len; ++i) amax = std::max(amax, std::abs(x[i]));
  if (amax == 0.f) {
    std::fill(q, q + len, std::int8_t{0});
    return 0.f;
  }
  const float inv = 127.f / amax;
  for (std::int64_t i = 0; i < len; ++i)
    q[i] = static_cast<std::int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.f, 127.f));
  return amax / 127.f;
}

}  // namespace

void round_x_int8(float* x, std::int64_t in) {
  std::int8_t q[kActivationBlock];
  for (std::int64_t b = 0; b < in; b += kActivationBlock) {
    const std::int64_t len = std::min<std::int64_t>(kActivationBlock, in - b);
    const float sx = quantize_block(q, x + b, len);
    for (std::int64_t i = 0; i < len; ++i) x[b + i] = sx * static_cast<float>(q[i]);
  }
}

void quantize_x_for_vnni(XQ& xq, const float* x, std::int64_t in, WKind kind) {
  GLM_CHECK(kind == WKind::i8 || kind == WKind::i4, "quantize_x_for_vnni: fp16 weights");
  const bool i4 = kind == WKind::i4;
  const std::int64_t per_chunk = i4 ? 128 : 64, per_lane = per_chunk / 16;
  xq.chunks = (in + per_chunk - 1) / per_chunk;
  xq.q0.assign(xq.chunks * 64, 0);
  xq.q1.assign(i4 ? xq.chunks * 64 : 0, 0);
  xq.lane_scale.assign(xq.chunks * 16, 0.f);
  xq.lane_bias.assign(i4 ? xq.chunks * 16 : 0, 0);
  std::int8_t q[kActivationBlock];
  for (std::int64_t b = 0; b < in; b += kActivationBlock) {
    const std::int64_t len = std::min<std::int64_t>(kActivationBlock, in - b);
    const float sx = quantize_block(q, x + b, len);
    for (std::int64_t k = 0; k < len; ++k) {
      const std::int64_t i = b + k, lane = i / per_lane;  // lanes never straddle blocks
      xq.lane_scale[lane] = sx;
      if (!i4) {
        xq.q0[i] = q[k];
        continue;
      }
      (i % 2 == 0 ? xq.q0 : xq.q1)[i / 2] = q[k];
      // the kernel multiplies xq by the nibble + 8 (an unsigned byte): take 8 * xq back
      xq.lane_bias[lane] -= 8 * q[k];
    }
  }
}

}  // namespace cpu

void round_activations_int8(Tensor& xr, const Tensor& x) {
  using namespace cpu;
  const char* op = "round_activations_int8";
  require_cpu(op, xr, x);
  require_f32(op, "x", x);
  require_f32(op, "xr", xr);
  require_numel(op, "xr", xr, x.numel());
  GLM_CHECK(x.dim() >= 1, "{}: x {} has no rows", op, x.describe());
  const std::int64_t in = x.size(-1), n = rows_of(x);
  std::copy(x.data<float>(), x.data<float>() + x.numel(), xr.data<float>());
  for (std::int64_t r = 0; r < n; ++r) cpu::round_x_int8(xr.data<float>() + r * in, in);
}

}  // namespace glm::kernels
