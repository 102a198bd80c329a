// Dropout with a Philox mask that is a pure function of global coordinates
// (kernels/dropout.h). What makes it fast: each Philox call yields the uniforms of 4
// columns; a row's random bits are generated in a vectorised loop (`omp simd` over counter
// blocks, per-ISA clones), then applied in a second vectorised pass; rows are split over
// threads. 16-bit rows are read and written natively through a thread's fp32 row buffer
// (kernels/cpu/row16.h).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/philox.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/dropout_row.h"
#include "kernels/cpu/row16.h"

namespace glm::kernels::cpu {

DropoutStream dropout_stream(const DropoutSite& site, float p) {
  DropoutStream s;
  s.key = philox::make_key(site.seed, philox::kDropout);
  s.site = site.site;
  s.step = site.step;
  s.p = p;
  s.scale = 1.f / (1.f - p);
  return s;
}

namespace {

// Random bits of columns [4*q0, 4*(q0+nq)) of one row: bits[4q + lane].
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void philox_bits(
    std::uint32_t* bits, std::int64_t q0, std::int64_t nq, std::uint32_t c1, std::uint32_t c2,
    std::uint32_t c3, philox::Key key) {
#pragma omp simd
  for (std::int64_t q = 0; q < nq; ++q) {
    philox::Block b = philox::philox4x32_10({static_cast<std::uint32_t>(q0 + q), c1, c2, c3}, key);
    bits[4 * q + 0] = b.v[0];
    bits[4 * q + 1] = b.v[1];
    bits[4 * q + 2] = b.v[2];
    bits[4 * q + 3] = b.v[3];
  }
}

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void apply_bits(
    float* dst, const float* src, const std::uint32_t* bits, std::int64_t n, float p, float scale) {
#pragma omp simd
  for (std::int64_t c = 0; c < n; ++c)
    dst[c] = philox::to_uniform(bits[c]) >= p ? src[c] * scale : 0.f;
}

}  // namespace

void dropout_row(float* dst, const float* src, std::int64_t n, const DropoutStream& s,
                 std::int64_t global_row) {
  const auto r = static_cast<std::uint64_t>(global_row);
  const std::uint32_t c1 = static_cast<std::uint32_t>(r),
                      c2 = static_cast<std::uint32_t>(r >> 32) ^ s.site;
  constexpr std::int64_t kChunk = 512;  // columns per pass (bits stay in L1)
  alignas(64) std::uint32_t bits[kChunk];
  for (std::int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const std::int64_t w = std::min(kChunk, n - c0);
    philox_bits(bits, c0 / 4, (w + 3) / 4, c1, c2, s.step, s.key);
    apply_bits(dst + c0, src + c0, bits, w, s.p, s.scale);
  }
}

void dropout_apply(Tensor& x, float p, const DropoutSite& site, std::int64_t B,
                   std::int64_t groups, std::int64_t I) {
  const std::int64_t C = x.size(-1), rows = B * groups * I;
  const DropoutStream s = dropout_stream(site, p);
  // Element (b, g, i, c) of the [B, G, I, C] view is row rr = (b*G + g)*I + i.
#pragma omp parallel if (rows * C >= kParallelMin)
  {
    std::vector<float> buf = row_buffer(x, C);
#pragma omp for schedule(static)
    for (std::int64_t rr = 0; rr < rows; ++rr) {
      const std::int64_t b = rr / (groups * I), g = (rr / I) % groups, i = rr % I;
      float* row = inout_row(x, rr, C, buf.data());
      dropout_row(row, row, C, s, dropout_global_row(site, b, g, i, I));
      finish_row(x, rr, C, row);
    }
  }
}

}  // namespace glm::kernels::cpu
