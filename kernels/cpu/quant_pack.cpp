// Quantization and dequantization of linear weights in the INT8/INT4 format of
// kernels/quant.h. Export-time code: plain loops (the inference kernels are in
// quant_linear.cpp).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "core/half.h"
#include "kernels/cpu/check.h"
#include "kernels/quant.h"

namespace glm::kernels {
using namespace cpu;

std::int64_t resolve_group_size(std::int64_t in, std::int64_t group, int bits,
                                std::string_view what) {
  if (bits != 8 && bits != 4)
    throw InputError(fmt::format("{}: quantization bits {} is not 8 or 4", what, bits));
  if (in <= 0) throw InputError(fmt::format("{}: input dimension {} is empty", what, in));
  const std::int64_t G = group == 0 ? in : group;
  if (G < 0 || in % G != 0)
    throw InputError(
        fmt::format("{}: group size {} does not divide the input dimension {}", what, group, in));
  if (bits == 4 && G % 2 != 0)
    throw InputError(
        fmt::format("{}: int4 needs an even group size, got {} (input dimension {})", what, G, in));
  return G;
}

QuantWeight quantize_weight(const Tensor& W, int bits, std::int64_t group) {
  require_cpu("quantize_weight", W);
  require_f32("quantize_weight", "W", W);
  GLM_CHECK(W.dim() == 2, "quantize_weight: W must be [out, in], got {}", W.describe());
  QuantWeight q;
  q.bits = bits;
  q.out = W.size(0);
  q.in = W.size(1);
  q.group = resolve_group_size(q.in, group, bits, "quantize_weight");
  const std::int64_t out = q.out, in = q.in, G = q.group, ng = in / G;
  const int qmax = q.qmax();
  q.q = bits == 8 ? Tensor::empty({out, in}, DType::i8) : Tensor::empty({out, in / 2}, DType::u8);
  q.scales = Tensor::empty({out, ng}, DType::f16);
  const float* w = W.data<float>();
  std::uint16_t* sc = q.scales.data<std::uint16_t>();
#pragma omp parallel for schedule(static) if (out * in > kParallelMin)
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t g = 0; g < ng; ++g) {
      const float* wg = w + o * in + g * G;
      float absmax = 0.f;
      for (std::int64_t i = 0; i < G; ++i) absmax = std::max(absmax, std::fabs(wg[i]));
      // fp16 tops out at 65504; weights never come near, but never store inf.
      const std::uint16_t s16 = float_to_half(std::min(absmax / qmax, 65504.f));
      sc[o * ng + g] = s16;
      const float s = half_to_float(s16);
      for (std::int64_t i = 0; i < G; ++i) {
        // q = clamp(round_half_away_from_zero(w / s), -qmax, qmax); s = 0 gives q = 0
        int v = 0;
        if (s > 0.f) {
          const float r = std::round(wg[i] / s);
          v = static_cast<int>(std::clamp(r, static_cast<float>(-qmax), static_cast<float>(qmax)));
        }
        const std::int64_t col = g * G + i;
        if (bits == 8) {
          q.q.data<std::int8_t>()[o * in + col] = static_cast<std::int8_t>(v);
        } else {
          std::uint8_t& byte = q.q.data<std::uint8_t>()[o * (in / 2) + col / 2];
          const std::uint8_t nib = static_cast<std::uint8_t>(v) & 0xF;
          byte = col % 2 == 0 ? static_cast<std::uint8_t>((byte & 0xF0) | nib)
                              : static_cast<std::uint8_t>((byte & 0x0F) | (nib << 4));
        }
      }
    }
  }
  return q;
}

void dequantize_weight(Tensor& W, const QuantWeight& q) {
  require_cpu("dequantize_weight", W, q.q, q.scales);
  require_f32("dequantize_weight", "W", W);
  require_shape("dequantize_weight", "W", W, {q.out, q.in});
  const std::int64_t in = q.in, G = q.group, ng = q.groups();
  const std::uint16_t* sc = q.scales.data<std::uint16_t>();
  float* w = W.data<float>();
  for (std::int64_t o = 0; o < q.out; ++o)
    for (std::int64_t i = 0; i < in; ++i) {
      int v;
      if (q.bits == 8) {
        v = q.q.data<std::int8_t>()[o * in + i];
      } else {
        const std::uint8_t byte = q.q.data<std::uint8_t>()[o * (in / 2) + i / 2];
        const int nib = i % 2 == 0 ? (byte & 0xF) : (byte >> 4);
        v = nib >= 8 ? nib - 16 : nib;  // two's complement
      }
      w[o * in + i] = static_cast<float>(v) * half_to_float(sc[o * ng + i / G]);
    }
}

}  // namespace glm::kernels
