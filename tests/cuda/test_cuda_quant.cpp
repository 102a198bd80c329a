// CUDA weight-only INT4/INT8 kernels (kernels/cuda/quant_gemm.h) against references written
// here, independent of the kernels: a host quantizer that follows the format definition of
// kernels/quant.h literally, and y = x * dequant(W)^T + b accumulated in double.
//
// Host-only tests run everywhere: the register dequantization tricks (exhaustively), the
// tensor-core fragment mapping (an emulated mma.m16n8k16 built from the same helpers the
// kernel uses), the launch plan, and the argument checks that throw before any CUDA call.
// GPU tests skip with a visible reason when no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/allocator.h"
#include "tests/gpu_skip.h"
#include "core/error.h"
#include "core/half.h"
#include "kernels/cuda/quant_dequant.h"
#include "kernels/cuda/quant_gemm.h"
#include "kernels/cuda/quant_gemm_plan.h"

namespace glm {
namespace {

namespace kc = kernels::cuda;
namespace kq = kernels::cuda::quant;

// ---- host reference: the format definition, literally --------------------------------------

int nibble_value(std::uint8_t byte, int which) {  // two's complement, low nibble first
  const int v = which == 0 ? (byte & 0xF) : (byte >> 4);
  return v >= 8 ? v - 16 : v;
}

struct HostQuant {
  int bits = 4;
  std::int64_t out = 0, in = 0, group = 0;
  std::vector<std::uint8_t> q;        // int8 bytes [out, in] or int4 bytes [out, in/2]
  std::vector<std::uint16_t> scales;  // fp16 bits [out, in/group]

  int value(std::int64_t o, std::int64_t i) const {
    if (bits == 8) return static_cast<std::int8_t>(q[o * in + i]);
    return nibble_value(q[o * (in / 2) + i / 2], static_cast<int>(i % 2));
  }
  float scale(std::int64_t o, std::int64_t i) const {
    return half_to_float(scales[o * (in / group) + i / group]);
  }
  float dequant(std::int64_t o, std::int64_t i) const {
    return static_cast<float>(value(o, i)) * scale(o, i);
  }
};

HostQuant host_quantize(const std::vector<float>& w, std::int64_t out, std::int64_t in,
                        std::int64_t group, int bits) {
  HostQuant h{bits, out, in, group, {}, {}};
  const float qmax = bits == 8 ? 127.f : 7.f;
  const std::int64_t ng = in / group;
  h.q.assign(bits == 8 ? out * in : out * in / 2, 0);
  h.scales.resize(out * ng);
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t g = 0; g < ng; ++g) {
      float absmax = 0.f;
      for (std::int64_t i = g * group; i < (g + 1) * group; ++i)
        absmax = std::max(absmax, std::fabs(w[o * in + i]));
      const std::uint16_t s16 = float_to_half(std::min(absmax / qmax, 65504.f));
      h.scales[o * ng + g] = s16;
      const float s = half_to_float(s16);
      for (std::int64_t i = g * group; i < (g + 1) * group; ++i) {
        const int v = s == 0.f ? 0 : static_cast<int>(std::clamp(std::round(w[o * in + i] / s), -qmax, qmax));
        if (bits == 8) {
          h.q[o * in + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(v));
        } else {
          std::uint8_t& byte = h.q[o * (in / 2) + i / 2];
          byte |= static_cast<std::uint8_t>((v & 0xF) << (4 * (i % 2)));
        }
      }
    }
  return h;
}

// Random weights in [-1, 1] with one all-zero group (a zero scale gives q = 0) and one
// outlier per row (absmax far from the rest, as in real checkpoints).
std::vector<float> random_weights(std::int64_t out, std::int64_t in, std::int64_t group,
                                  std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> w(out * in);
  for (auto& v : w) v = u(rng);
  for (std::int64_t i = 0; i < group; ++i) w[i] = 0.f;  // row 0, group 0
  for (std::int64_t o = 0; o < out; ++o) w[o * in + (o * 7) % in] = 6.f * u(rng);
  return w;
}

std::vector<std::uint16_t> random_halves(std::int64_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<std::uint16_t> h(count);
  for (auto& v : h) v = float_to_half(u(rng));
  return h;
}

// ---- host-only: register dequantization ----------------------------------------------------

TEST(QuantDequant, Int4WordDecodesEveryNibbleExactly) {
  std::mt19937 rng(1);
  for (int pos = 0; pos < 8; ++pos)
    for (int nib = 0; nib < 16; ++nib)
      for (int rep = 0; rep < 64; ++rep) {
        const std::uint32_t w = (rng() & ~(0xFu << (4 * pos))) | (static_cast<std::uint32_t>(nib) << (4 * pos));
        float q[8];
        kq::int4x8_to_f32(w, q);
        for (int e = 0; e < 8; ++e) {
          const std::uint8_t byte = static_cast<std::uint8_t>(w >> (8 * (e / 2)));
          ASSERT_EQ(q[e], static_cast<float>(nibble_value(byte, e % 2))) << std::hex << w << " e " << e;
        }
      }
}

TEST(QuantDequant, Int8WordDecodesEveryByteExactly) {
  std::mt19937 rng(2);
  for (int pos = 0; pos < 4; ++pos)
    for (int b = 0; b < 256; ++b)
      for (int rep = 0; rep < 16; ++rep) {
        const std::uint32_t w = (rng() & ~(0xFFu << (8 * pos))) | (static_cast<std::uint32_t>(b) << (8 * pos));
        float q[4];
        kq::int8x4_to_f32(w, q);
        for (int e = 0; e < 4; ++e)
          ASSERT_EQ(q[e], static_cast<float>(static_cast<std::int8_t>(w >> (8 * e)))) << std::hex << w;
      }
}

TEST(QuantDequant, Fp16PairsAreBiasedExactValues) {
  std::mt19937 rng(3);
  for (int rep = 0; rep < 20000; ++rep) {
    const std::uint32_t w = rng(), w2 = rng();
    const std::uint32_t p4[4] = {kq::int4_pair_biased_f16x2<0>(w), kq::int4_pair_biased_f16x2<1>(w),
                                 kq::int4_pair_biased_f16x2<2>(w), kq::int4_pair_biased_f16x2<3>(w)};
    const std::uint32_t p8[4] = {kq::int8_pair_biased_f16x2<0>(w, w2), kq::int8_pair_biased_f16x2<1>(w, w2),
                                 kq::int8_pair_biased_f16x2<2>(w, w2), kq::int8_pair_biased_f16x2<3>(w, w2)};
    const float b4 = half_to_float(kq::kInt4PairBias), b8 = half_to_float(kq::kInt8PairBias);
    ASSERT_EQ(b4, 1032.f);
    ASSERT_EQ(b8, 1152.f);
    for (int e = 0; e < 4; ++e) {
      // int4 pair e = elements (e, e+4) of w; int8 pair e = (byte e of w, byte e of w2)
      const int q_lo = nibble_value(static_cast<std::uint8_t>(w >> (8 * (e / 2))), e % 2);
      const int q_hi = nibble_value(static_cast<std::uint8_t>(w >> (8 * ((e + 4) / 2))), e % 2);
      ASSERT_EQ(half_to_float(static_cast<std::uint16_t>(p4[e])) - b4, static_cast<float>(q_lo));
      ASSERT_EQ(half_to_float(static_cast<std::uint16_t>(p4[e] >> 16)) - b4, static_cast<float>(q_hi));
      ASSERT_EQ(half_to_float(static_cast<std::uint16_t>(p8[e])) - b8,
                static_cast<float>(static_cast<std::int8_t>(w >> (8 * e))));
      ASSERT_EQ(half_to_float(static_cast<std::uint16_t>(p8[e] >> 16)) - b8,
                static_cast<float>(static_cast<std::int8_t>(w2 >> (8 * e))));
    }
  }
}

// The tensor-core path: fragments built exactly as quant_gemm_mma_m16 builds them, fed to an
// mma.m16n8k16 emulated from the PTX ISA fragment tables (A row-major 16x16: register r of
// lane (g, t) holds row g + 8*(r%2), columns 2t + 8*(r/2) + {0,1}; B 16x8: register r holds
// rows 2t + 8r + {0,1} of column g). The sum must equal the plain product over one k-block.
// Integer x keeps every sum exact, so the comparison is equality.
void check_fragment_mapping(int bits) {
  constexpr int kK = 128, kRowsA = 16, kCols = 8;
  std::mt19937 rng(bits);
  const int row_bytes = kK * bits / 8;
  std::vector<std::uint8_t> wbytes(kRowsA * row_bytes);
  for (auto& b : wbytes) b = static_cast<std::uint8_t>(rng());
  auto q_at = [&](int m, int k) {
    return bits == 8 ? static_cast<int>(static_cast<std::int8_t>(wbytes[m * row_bytes + k]))
                     : nibble_value(wbytes[m * row_bytes + k / 2], k % 2);
  };
  std::vector<std::uint16_t> x(kCols * kK);
  std::vector<int> xi(kCols * kK);
  for (int i = 0; i < kCols * kK; ++i) {
    xi[i] = static_cast<int>(rng() % 17) - 8;
    x[i] = float_to_half(static_cast<float>(xi[i]));
  }
  auto word = [](const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  const float bias = bits == 4 ? 1032.f : 1152.f;
  auto unbias = [&](std::uint32_t pair, int half) {
    return half_to_float(static_cast<std::uint16_t>(pair >> (16 * half))) - bias;
  };

  double C[kRowsA][kCols] = {};
  const int lane_bytes = 32 * bits / 8;
  for (int v = 0; v < 4; ++v)
    for (int h = 0; h < 2; ++h) {  // one k16 step
      float A[16][16], B[16][8];
      for (auto& r : A) std::fill(std::begin(r), std::end(r), std::nanf(""));
      for (auto& r : B) std::fill(std::begin(r), std::end(r), std::nanf(""));
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        std::uint32_t areg[4];
        for (int r = 0; r < 4; ++r) {
          const int row = g + 8 * (r % 2), e = 2 * h + r / 2;
          const std::uint8_t* chunk = &wbytes[row * row_bytes + t * lane_bytes];
          if (bits == 4) {
            const std::uint32_t w = word(chunk + 4 * v);
            const std::uint32_t p[4] = {kq::int4_pair_biased_f16x2<0>(w), kq::int4_pair_biased_f16x2<1>(w),
                                        kq::int4_pair_biased_f16x2<2>(w), kq::int4_pair_biased_f16x2<3>(w)};
            areg[r] = p[e];
          } else {
            const std::uint32_t lo = word(chunk + 8 * v), hi = word(chunk + 8 * v + 4);
            const std::uint32_t p[4] = {kq::int8_pair_biased_f16x2<0>(lo, hi), kq::int8_pair_biased_f16x2<1>(lo, hi),
                                        kq::int8_pair_biased_f16x2<2>(lo, hi), kq::int8_pair_biased_f16x2<3>(lo, hi)};
            areg[r] = p[e];
          }
        }
        std::uint32_t xw[4], b[4];
        std::memcpy(xw, &x[g * kK + 32 * t + 8 * v], 16);
        kq::x_pairs_from_8(xw, b);
        const std::uint32_t breg[2] = {b[2 * h], b[2 * h + 1]};
        for (int r = 0; r < 4; ++r)
          for (int half = 0; half < 2; ++half) {
            float& slot = A[g + 8 * (r % 2)][2 * t + 8 * (r / 2) + half];
            ASSERT_TRUE(std::isnan(slot)) << "A element held twice";
            slot = unbias(areg[r], half);
          }
        for (int r = 0; r < 2; ++r)
          for (int half = 0; half < 2; ++half) {
            float& slot = B[2 * t + 8 * r + half][g];
            ASSERT_TRUE(std::isnan(slot)) << "B element held twice";
            slot = half_to_float(static_cast<std::uint16_t>(breg[r] >> (16 * half)));
          }
      }
      for (int m = 0; m < 16; ++m)
        for (int n = 0; n < 8; ++n)
          for (int k = 0; k < 16; ++k) C[m][n] += static_cast<double>(A[m][k]) * B[k][n];
    }
  for (int m = 0; m < kRowsA; ++m)
    for (int n = 0; n < kCols; ++n) {
      long want = 0;
      for (int k = 0; k < kK; ++k) want += static_cast<long>(q_at(m, k)) * xi[n * kK + k];
      ASSERT_EQ(C[m][n], static_cast<double>(want)) << "row " << m << " column " << n;
    }
}

TEST(QuantDequant, Int4TensorCoreFragmentsComputeTheProduct) { check_fragment_mapping(4); }
TEST(QuantDequant, Int8TensorCoreFragmentsComputeTheProduct) { check_fragment_mapping(8); }

// ---- host-only: launch plan ------------------------------------------------------------------

constexpr kc::DeviceLimits kH100{132, 227 * 1024, 228 * 1024};

TEST(QuantPlan, PathsForTheTestShapes) {
  using P = kc::QuantGemmPath;
  auto path = [](std::int64_t n, std::int64_t in, std::int64_t group, int bits, bool aligned = true) {
    return kc::plan_quant_gemm({n, 1000, in, group, bits, aligned}, kH100).path;
  };
  EXPECT_EQ(path(1, 4096, 128, 4), P::gemv);
  EXPECT_EQ(path(1, 4096, 128, 8), P::gemv);
  EXPECT_EQ(path(1, 96, 32, 4), P::gemv);
  EXPECT_EQ(path(1, 96, 32, 8), P::gemv);
  EXPECT_EQ(path(1, 130, 130, 4), P::generic);   // 65-byte rows: no 16-byte loads
  EXPECT_EQ(path(3, 130, 130, 8), P::generic);
  EXPECT_EQ(path(3, 4096, 128, 4), P::mma);
  EXPECT_EQ(path(64, 4096, 4096, 8), P::mma);
  EXPECT_EQ(path(17, 96, 32, 4), P::gemv);       // G = 32 < one mma k-block: gemv per x row
  EXPECT_EQ(path(1, 4096, 128, 4, false), P::generic);
  EXPECT_EQ(path(4, 4096, 4096, 16), P::gemv);   // fp16 weights never take the mma path
  EXPECT_EQ(path(1, 200000, 200000, 8), P::generic);  // x does not fit in shared memory
}

TEST(QuantPlan, MmaTilesCoverTheBatch) {
  EXPECT_EQ(kc::mma_tiles_for(2), 1);
  EXPECT_EQ(kc::mma_tiles_for(8), 1);
  EXPECT_EQ(kc::mma_tiles_for(9), 2);
  EXPECT_EQ(kc::mma_tiles_for(17), 4);
  EXPECT_EQ(kc::mma_tiles_for(33), 8);
  EXPECT_EQ(kc::mma_tiles_for(64), 8);
  EXPECT_EQ(kc::mma_tiles_for(1000), 8);  // launched in chunks of 64 rows
  const auto p = kc::plan_quant_gemm({17, 1000, 4096, 128, 4, true}, kH100);
  EXPECT_EQ(p.grid * kc::kMmaWarps * 16, 1024);  // 63 tiles of 16 rows -> 16 blocks of 4
  EXPECT_EQ(p.n_per_launch, 64);
}

TEST(QuantPlan, GemvGridIsPersistentOnTheBenchmarkShape) {
  // 12288 x 32768: x is 64 KiB of fp16, so 3 blocks of 8 warps fit an SM; 6144 row pairs
  // over 132 * 3 * 8 = 3168 warps: every warp takes 1 or 2 (97% balance).
  const auto p = kc::plan_quant_gemm({1, 12288, 32768, 32768, 4, true}, kH100);
  EXPECT_EQ(p.path, kc::QuantGemmPath::gemv);
  EXPECT_EQ(p.smem_bytes, 65536);
  EXPECT_EQ(p.grid, 132 * 3);
  // 4096 x 4096: 2048 row pairs, 8 KiB of x: 256 blocks, one row pair per warp.
  EXPECT_EQ(kc::plan_quant_gemm({1, 4096, 4096, 128, 8, true}, kH100).grid, 256);
}

// ---- host-only: argument checks throw before any CUDA call ---------------------------------
// Tensors wrap a host buffer but claim a CUDA device: the checks must reject them without
// touching the memory or the CUDA runtime.

struct FakeDevice {
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(1 << 16);
  Tensor t(Shape s, DType dt) { return Tensor::wrap(mem.data(), std::move(s), dt, Device::cuda()); }
};

TEST(QuantArgs, BadArgumentsThrowBeforeAnyCudaCall) {
  FakeDevice d;
  kernels::QuantWeight W;
  W.bits = 4, W.out = 37, W.in = 96, W.group = 32;
  W.q = d.t({37, 48}, DType::u8);
  W.scales = d.t({37, 3}, DType::f16);
  Tensor x = d.t({3, 96}, DType::f16), y = d.t({3, 37}, DType::f32), b = d.t({37}, DType::f16);

  auto call = [&](kernels::QuantWeight w, Tensor xx, Tensor yy, const Tensor* bb) {
    kernels::quant_linear_forward(yy, xx, w, bb);
  };
  auto with = [&](auto edit) {
    kernels::QuantWeight w = W;
    edit(w);
    return w;
  };
  EXPECT_THROW(call(with([](auto& w) { w.bits = 3; }), x, y, &b), Error);
  EXPECT_THROW(call(with([](auto& w) { w.group = 40; }), x, y, &b), Error);      // 40 does not divide 96
  EXPECT_THROW(call(with([&](auto& w) { w.q = d.t({37, 96}, DType::i8); }), x, y, &b), Error);
  EXPECT_THROW(call(with([&](auto& w) { w.scales = d.t({37, 2}, DType::f16); }), x, y, &b), Error);
  EXPECT_THROW(call(with([&](auto& w) { w.scales = d.t({37, 3}, DType::f32); }), x, y, &b), Error);
  EXPECT_THROW(call(W, d.t({3, 96}, DType::f32), y, &b), Error);                // x not f16
  EXPECT_THROW(call(W, d.t({3, 95}, DType::f16), y, &b), Error);                // x width
  EXPECT_THROW(call(W, x, d.t({3, 36}, DType::f32), &b), Error);                // y shape
  EXPECT_THROW(call(W, x, d.t({3, 37}, DType::i32), &b), Error);                // y dtype
  Tensor b_bad = d.t({36}, DType::f16);
  EXPECT_THROW(call(W, x, y, &b_bad), Error);
  EXPECT_THROW(call(W, Tensor::zeros({3, 96}, DType::f16), y, &b), Error);      // x on the host
  EXPECT_THROW(call(with([](auto& w) { w.bits = 8; }), x, y, &b), Error);       // q is u8, int8 wants i8
  kernels::QuantWeight odd = with([&](auto& w) {
    w.in = 90, w.group = 45, w.q = d.t({37, 45}, DType::u8), w.scales = d.t({37, 2}, DType::f16);
  });
  EXPECT_THROW(call(odd, d.t({3, 90}, DType::f16), y, &b), Error);              // int4, odd G

  Tensor wf = d.t({37, 96}, DType::f16);
  EXPECT_THROW(kernels::f16_linear_forward(y, x, d.t({37, 96}, DType::f32), &b), Error);
  EXPECT_THROW(kernels::f16_linear_forward(y, x, d.t({37, 95}, DType::f16), &b), Error);
  EXPECT_THROW(kc::quantize_weight(W, d.t({37, 96}, DType::i8)), Error);
  EXPECT_THROW(kc::quantize_weight(W, d.t({36, 96}, DType::f32)), Error);
  EXPECT_THROW(kc::quantize_weight(W, Tensor::zeros({37, 96}, DType::f32)), Error);
  (void)wf;
}

// ---- GPU: quantize, then the products --------------------------------------------------------

struct Case {
  std::int64_t out, in, group;
};
const Case kCases[] = {{37, 96, 32}, {1000, 96, 32}, {37, 130, 130}, {1000, 130, 130},
                       {37, 4096, 128}, {1000, 4096, 128}};
const std::int64_t kBatches[] = {1, 3, 17, 64};

Tensor device_copy(const void* src, Shape shape, DType dt) {
  Tensor h = Tensor::empty(std::move(shape), dt);
  std::memcpy(h.raw(), src, h.nbytes());
  return h.to(Device::cuda());
}

// Quantizes on the device; the result must equal the host reference byte for byte.
kernels::QuantWeight device_quantize(const std::vector<float>& w, const Case& c, int bits,
                                     bool from_f16, const HostQuant& ref) {
  kernels::QuantWeight Q;
  Q.bits = bits, Q.out = c.out, Q.in = c.in, Q.group = c.group;
  Q.q = bits == 8 ? Tensor::empty({c.out, c.in}, DType::i8, Device::cuda())
                  : Tensor::empty({c.out, c.in / 2}, DType::u8, Device::cuda());
  Q.scales = Tensor::empty({c.out, c.in / c.group}, DType::f16, Device::cuda());
  if (from_f16) {
    std::vector<std::uint16_t> wh(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) wh[i] = float_to_half(w[i]);
    kc::quantize_weight(Q, device_copy(wh.data(), {c.out, c.in}, DType::f16));
  } else {
    kc::quantize_weight(Q, device_copy(w.data(), {c.out, c.in}, DType::f32));
  }
  Tensor q = Q.q.to(Device::cpu()), s = Q.scales.to(Device::cpu());
  EXPECT_EQ(std::memcmp(q.raw(), ref.q.data(), ref.q.size()), 0)
      << "q bytes differ: int" << bits << " " << c.out << "x" << c.in << " G " << c.group;
  EXPECT_EQ(std::memcmp(s.raw(), ref.scales.data(), 2 * ref.scales.size()), 0)
      << "scales differ: int" << bits << " " << c.out << "x" << c.in << " G " << c.group;
  return Q;
}

TEST(CudaQuant, DeviceQuantizeMatchesHostByteForByte) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : kCases)
    for (int bits : {4, 8})
      for (bool from_f16 : {false, true}) {
        std::vector<float> w = random_weights(c.out, c.in, c.group, 11);
        if (from_f16)
          for (auto& v : w) v = round_to_half(v);  // the host sees the fp16 values the device does
        device_quantize(w, c, bits, from_f16, host_quantize(w, c.out, c.in, c.group, bits));
      }
}

// Tolerance. The reference sums exact products (q * fp16 scale is exact in fp32; x is given
// in fp16, so there is no input rounding to model) in double. The kernels differ only by
// fp32 accumulation in another order (lane-strided chunks, per-group partial sums scaled
// once, tensor-core adders that align and truncate): each of the `in` additions errs by at
// most 2^-24 of the running magnitude, bounded by sum |w x|. Random rounding grows like
// sqrt(in) * 2^-24 (4e-6 at in = 4096); kSumRelTol = 1e-4 is between that and the
// (in-1) * 2^-24 worst case (2.4e-4). An fp16 y adds one rounding: 2^-11 of |y| (kF16Out).
constexpr double kSumRelTol = 1e-4;
constexpr double kF16OutRelTol = 1.0 / 2048;

void check_linear(const Tensor& y_dev, const std::vector<std::uint16_t>& x, std::int64_t n,
                  std::int64_t in, std::int64_t out, const std::vector<float>& wdq,
                  const std::vector<std::uint16_t>& bias, const std::string& what) {
  Tensor y = y_dev.to(Device::cpu());
  const bool f16 = y.dtype() == DType::f16;
  int bad = 0;
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      double want = half_to_float(bias[o]), mag = std::fabs(want);
      for (std::int64_t i = 0; i < in; ++i) {
        const double p = static_cast<double>(wdq[o * in + i]) * half_to_float(x[r * in + i]);
        want += p;
        mag += std::fabs(p);
      }
      const double got = f16 ? half_to_float(y.data<std::uint16_t>()[r * out + o])
                             : y.data<float>()[r * out + o];
      const double tol = kSumRelTol * mag + (f16 ? kF16OutRelTol * std::fabs(want) : 0.0) + 1e-30;
      if (!(std::fabs(got - want) <= tol) && ++bad <= 5)
        ADD_FAILURE() << what << ": y[" << r << "][" << o << "] = " << got << ", want " << want
                      << " (tolerance " << tol << ")";
    }
  EXPECT_EQ(bad, 0) << what;
}

TEST(CudaQuant, LinearMatchesDequantizedReference) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : kCases)
    for (int bits : {4, 8}) {
      const std::vector<float> w = random_weights(c.out, c.in, c.group, 21);
      const HostQuant ref = host_quantize(w, c.out, c.in, c.group, bits);
      kernels::QuantWeight Q = device_quantize(w, c, bits, false, ref);
      std::vector<float> wdq(c.out * c.in);
      for (std::int64_t o = 0; o < c.out; ++o)
        for (std::int64_t i = 0; i < c.in; ++i) wdq[o * c.in + i] = ref.dequant(o, i);
      const std::vector<std::uint16_t> bias = random_halves(c.out, 5);
      Tensor b = device_copy(bias.data(), {c.out}, DType::f16);
      for (std::int64_t n : kBatches)
        for (DType ydt : {DType::f32, DType::f16}) {
          const std::vector<std::uint16_t> x = random_halves(n * c.in, 7 + static_cast<std::uint32_t>(n));
          Tensor xd = device_copy(x.data(), {n, c.in}, DType::f16);
          Tensor y = Tensor::empty({n, c.out}, ydt, Device::cuda());
          kernels::quant_linear_forward(y, xd, Q, &b);
          const auto plan = kc::quant_gemm_plan({n, c.out, c.in, c.group, bits, true});
          check_linear(y, x, n, c.in, c.out, wdq, bias,
                       fmt::format("int{} {}x{} G{} n={} y {} path {}", bits, c.out, c.in, c.group,
                                   n, dtype_name(ydt), static_cast<int>(plan.path)));
        }
    }
}

TEST(CudaQuant, LargeBatchRunsInChunksAndNoBiasWorks) {
  SKIP_WITHOUT_GPU();
  const Case c{300, 512, 128};
  const std::int64_t n = 70;  // 64 + 6: two mma launches with different tile counts
  for (int bits : {4, 8}) {
    const std::vector<float> w = random_weights(c.out, c.in, c.group, 31);
    const HostQuant ref = host_quantize(w, c.out, c.in, c.group, bits);
    kernels::QuantWeight Q = device_quantize(w, c, bits, false, ref);
    std::vector<float> wdq(c.out * c.in);
    for (std::int64_t o = 0; o < c.out; ++o)
      for (std::int64_t i = 0; i < c.in; ++i) wdq[o * c.in + i] = ref.dequant(o, i);
    const std::vector<std::uint16_t> x = random_halves(n * c.in, 9);
    Tensor y = Tensor::empty({n, c.out}, DType::f32, Device::cuda());
    kernels::quant_linear_forward(y, device_copy(x.data(), {n, c.in}, DType::f16), Q, nullptr);
    check_linear(y, x, n, c.in, c.out, wdq, std::vector<std::uint16_t>(c.out, 0),
                 fmt::format("int{} n=70 no bias", bits));
  }
}

TEST(CudaQuant, F16WeightsMatchReference) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : kCases)
    for (std::int64_t n : {std::int64_t{1}, std::int64_t{3}}) {
      const std::vector<std::uint16_t> wh = random_halves(c.out * c.in, 41);
      std::vector<float> wf(wh.size());
      for (std::size_t i = 0; i < wh.size(); ++i) wf[i] = half_to_float(wh[i]);
      const std::vector<std::uint16_t> x = random_halves(n * c.in, 43), bias = random_halves(c.out, 47);
      Tensor y = Tensor::empty({n, c.out}, DType::f32, Device::cuda());
      Tensor b = device_copy(bias.data(), {c.out}, DType::f16);
      kernels::f16_linear_forward(y, device_copy(x.data(), {n, c.in}, DType::f16),
                             device_copy(wh.data(), {c.out, c.in}, DType::f16), &b);
      check_linear(y, x, n, c.in, c.out, wf, bias,
                   fmt::format("fp16 {}x{} n={}", c.out, c.in, n));
    }
}

}  // namespace
}  // namespace glm
