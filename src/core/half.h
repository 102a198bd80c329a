// Scalar IEEE binary16 and bfloat16 <-> binary32 conversion: the reference the vectorised
// kernels in kernels/convert.h are tested against, and what small host code uses.
#pragma once

#include <cstdint>
#include <cstring>

namespace glm {

inline float half_to_float(std::uint16_t h) {
  std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FFu, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        man <<= 1;
        ++e;
      } while (!(man & 0x400u));
      bits = sign | ((127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);  // inf / nan (payload kept)
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; overflow gives inf, as a GPU store of fp16 does.
inline std::uint16_t float_to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  std::uint32_t sign = (x >> 16) & 0x8000u;
  std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0));
  if (ax >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (ax < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (ax < 0x33000000u) return static_cast<std::uint16_t>(sign);  // < 2^-25 rounds to 0
    std::uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u;
    int shift = 126 - static_cast<int>(e);  // 14 + (127 - 15 - e) ... places m at 2^-24 units
    std::uint32_t half_m = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half_m & 1u))) ++half_m;
    return static_cast<std::uint16_t>(sign | half_m);
  }
  std::uint32_t r = ax - 0x38000000u;  // rebias exponent 127 -> 15
  std::uint32_t half = r >> 13, rem = r & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

// The fp32 value a store to fp16 would leave behind.
inline float round_to_half(float f) { return half_to_float(float_to_half(f)); }

// bfloat16: the top 16 bits of a binary32 (8 exponent bits, 7 mantissa bits).
inline float bf16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even (as __float2bfloat16_rn); NaN stays a quiet NaN of the same sign,
// overflow past the largest bf16 gives inf.
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

inline float round_to_bf16(float f) { return bf16_to_float(float_to_bf16(f)); }

// The stored value of f in a 16-bit dtype (DType::f16 or DType::bf16) and back.
inline std::uint16_t float_to_16(float f, bool bf16) { return bf16 ? float_to_bf16(f) : float_to_half(f); }
inline float float_from_16(std::uint16_t h, bool bf16) { return bf16 ? bf16_to_float(h) : half_to_float(h); }

}  // namespace glm
