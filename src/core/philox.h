// Counter-based Philox4x32-10 random numbers (Salmon et al., SC'11).
//
// A draw is a pure function of (key, counter): no state, so any rank, thread or device
// computes the same number for the same coordinates. docs/design.md section 5: keys come from
// (seed, purpose), counters from (step, global sample, global tensor coordinates). This
// header is usable from CUDA code as well (GLM_HD).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GLM_HD __host__ __device__ __forceinline__
#else
#define GLM_HD inline
#endif

namespace glm::philox {

struct Key {
  std::uint32_t k0, k1;
};
struct Counter {
  std::uint32_t c0, c1, c2, c3;
};
struct Block {
  std::uint32_t v[4];
};

GLM_HD void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

// Ten rounds of Philox4x32 with the published multipliers and Weyl key increments.
GLM_HD Block philox4x32_10(Counter c, Key k) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t x0 = c.c0, x1 = c.c1, x2 = c.c2, x3 = c.c3, k0 = k.k0, k1 = k.k1;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, x0, hi0, lo0);
    mulhilo(kM1, x2, hi1, lo1);
    std::uint32_t y0 = hi1 ^ x1 ^ k0, y1 = lo1, y2 = hi0 ^ x3 ^ k1, y3 = lo0;
    x0 = y0;
    x1 = y1;
    x2 = y2;
    x3 = y3;
  }
  return {{x0, x1, x2, x3}};
}

// A key from a 64-bit seed and a purpose tag (init, dropout, data order, masking, ...).
GLM_HD Key make_key(std::uint64_t seed, std::uint32_t purpose) {
  return {static_cast<std::uint32_t>(seed) ^ (purpose * 0x85EBCA6Bu),
          static_cast<std::uint32_t>(seed >> 32) ^ purpose};
}

// Uniform in [0, 1) with 24 random bits (exactly representable in fp32).
GLM_HD float to_uniform(std::uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// Two standard normals from two uniform draws (Box-Muller; u1 shifted off zero).
GLM_HD void to_normal2(std::uint32_t a, std::uint32_t b, float& n0, float& n1) {
  float u1 = (static_cast<float>(a >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
  float u2 = to_uniform(b);
  float r = std::sqrt(-2.0f * std::log(u1));
  float t = 6.28318530717958647692f * u2;
  n0 = r * std::cos(t);
  n1 = r * std::sin(t);
}

// Purposes: distinct key streams so no two uses of randomness ever share numbers.
enum Purpose : std::uint32_t {
  kInit = 1,
  kDropout = 2,
  kDataOrder = 3,
  kMasking = 4,
  kSampling = 5,
};

}  // namespace glm::philox
