// Host-side logic of the CUDA backend that runs without a GPU (these tests run everywhere):
// the caching allocator's size classes, reuse, statistics and out-of-memory retry (driven
// through host memory), the launch-configuration arithmetic of the kernels, the GEMM
// argument checks, and the AdamW constants and chunk table against optim::AdamW.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "core/cuda_caching_allocator.h"
#include "core/error.h"
#include "kernels/cuda/cuda_adamw.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/launch_config.h"
#include "modeldef/param_layout.h"
#include "optim/adamw.h"

namespace glm {
namespace {

// Host memory with a capacity, counting calls: the allocator's only view of a device.
class HostMemory final : public RawDeviceMemory {
 public:
  explicit HostMemory(std::size_t capacity) : capacity_(capacity) {}
  void* allocate(std::size_t bytes) override {
    if (used_ + bytes > capacity_) return nullptr;
    used_ += bytes;
    ++allocs;
    return std::malloc(bytes);
  }
  void release(void* p, std::size_t bytes) override {
    used_ -= bytes;
    ++frees;
    std::free(p);
  }
  std::size_t used() const { return used_; }
  int allocs = 0, frees = 0;

 private:
  std::size_t capacity_, used_ = 0;
};

TEST(CachingAllocator, SizeClassesRoundUpWithBoundedWaste) {
  using CA = CachingAllocator;
  EXPECT_EQ(CA::size_class(0), 512u);
  EXPECT_EQ(CA::size_class(1), 512u);
  EXPECT_EQ(CA::size_class(512), 512u);
  EXPECT_EQ(CA::size_class(513), 1024u);
  EXPECT_EQ(CA::size_class(1 << 20), 1u << 20);
  // (1 MiB, 2 MiB]: steps of 128 KiB
  EXPECT_EQ(CA::size_class((1 << 20) + 1), (1u << 20) + (128u << 10));
  EXPECT_EQ(CA::size_class(3u << 20), 3u << 20);  // (2, 4] MiB: steps of 256 KiB, 3 MiB is one
  EXPECT_EQ(CA::size_class((3u << 20) + 1), (3u << 20) + (256u << 10));
  // Every class holds the request, wastes < 12.5% above 1 MiB, and is stable.
  for (std::size_t b = 1; b < (std::size_t{64} << 20); b = b * 3 / 2 + 7) {
    const std::size_t c = CA::size_class(b);
    ASSERT_GE(c, b);
    ASSERT_EQ(CA::size_class(c), c) << b;
    if (b > CA::kSmallLimit) ASSERT_LT(static_cast<double>(c - b), b / 8.0 + 1) << b;
    ASSERT_EQ(c % 512, 0u) << b;  // cudaMalloc alignment kept for every block
  }
}

TEST(CachingAllocator, FreedBlocksAreReusedWithinTheirClass) {
  HostMemory raw(1 << 30);
  CachingAllocator ca(raw);
  void* a = ca.allocate(1000);
  ca.deallocate(a);
  void* b = ca.allocate(700);  // same 1024-byte class: the cached block
  EXPECT_EQ(a, b);
  void* c = ca.allocate(5000);  // another class: a new raw allocation
  EXPECT_NE(c, b);
  EXPECT_EQ(raw.allocs, 2);
  const CacheStats s = ca.stats();
  EXPECT_EQ(s.allocations, 3u);
  EXPECT_EQ(s.cache_hits, 1u);
  EXPECT_EQ(s.in_use, 1024u + 5120u);
  EXPECT_EQ(s.cached, 0u);
  ca.deallocate(b);
  ca.deallocate(c);
  EXPECT_EQ(ca.stats().in_use, 0u);
  EXPECT_EQ(ca.stats().cached, 1024u + 5120u);
  EXPECT_EQ(ca.stats().peak_in_use, 1024u + 5120u);
  EXPECT_EQ(ca.stats().reserved, raw.used());
  ca.release_cached();
  EXPECT_EQ(raw.used(), 0u);
  EXPECT_EQ(raw.frees, 2);
  EXPECT_EQ(ca.stats().reserved, 0u);
}

TEST(CachingAllocator, PeakTracksTheHighWaterMarkAndResets) {
  HostMemory raw(1 << 30);
  CachingAllocator ca(raw);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(ca.allocate(4096));
  for (void* p : blocks) ca.deallocate(p);
  EXPECT_EQ(ca.stats().peak_in_use, 4u * 4096);
  ca.reset_peak();
  EXPECT_EQ(ca.stats().peak_in_use, 0u);
  void* p = ca.allocate(4096);
  EXPECT_EQ(ca.stats().peak_in_use, 4096u);
  EXPECT_EQ(raw.allocs, 4);  // served from the cache
  ca.deallocate(p);
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheAndRetriesOnce) {
  HostMemory raw(8192);
  CachingAllocator ca(raw);
  void* a = ca.allocate(4096);
  void* b = ca.allocate(4096);
  ca.deallocate(a);
  ca.deallocate(b);  // 8 KiB cached, device full
  void* c = ca.allocate(6000);  // 6144 class: needs the cache released first
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(ca.stats().oom_retries, 1u);
  EXPECT_EQ(ca.stats().cached, 0u);
  EXPECT_EQ(ca.allocate(4096), nullptr);  // really out of memory: nullptr, no throw
  ca.deallocate(c);
}

TEST(CachingAllocator, WithoutCachingEveryFreeReturnsMemory) {
  HostMemory raw(1 << 20);
  CachingAllocator ca(raw, /*caching=*/false);
  void* a = ca.allocate(100);
  ca.deallocate(a);
  EXPECT_EQ(raw.used(), 0u);
  EXPECT_EQ(ca.stats().cached, 0u);
}

TEST(CachingAllocator, ForeignOrDoubleFreeIsAnError) {
  HostMemory raw(1 << 20);
  CachingAllocator ca(raw);
  void* a = ca.allocate(100);
  ca.deallocate(a);
  EXPECT_THROW(ca.deallocate(a), Error);
  int x = 0;
  EXPECT_THROW(ca.deallocate(&x), Error);
  ca.deallocate(nullptr);  // ignored
}

TEST(CudaLaunchConfig, GridStrideBlocksCoverAndCap) {
  using namespace kernels::cuda;
  EXPECT_EQ(grid_stride_blocks(0, 256), 1);
  EXPECT_EQ(grid_stride_blocks(1, 256), 1);
  EXPECT_EQ(grid_stride_blocks(256, 256), 1);
  EXPECT_EQ(grid_stride_blocks(257, 256), 2);
  EXPECT_EQ(grid_stride_blocks(std::int64_t{1} << 40, 256), 65535);
  EXPECT_EQ(ceil_div(10, 4), 3);
  EXPECT_EQ(dropout_threads(3, 10), 9);  // 3 rows x ceil(10/4) quads
}

TEST(CudaLaunchConfig, FlashTilesFitAnH100ForEveryHeadDim) {
  using namespace kernels::cuda;
  constexpr std::int64_t kH100OptinSmem = 232448;  // cudaDevAttrMaxSharedMemoryPerBlockOptin, sm_90
  for (std::int64_t d = 1; d <= kFlashMaxHeadDim; ++d) {
    const int dpl = dims_per_lane(d);
    ASSERT_GE(dpl * 32, d);
    ASSERT_TRUE(dpl == 1 || dpl == 2 || dpl == 4 || dpl == 8);
    for (FlashKernel k : {FlashKernel::forward, FlashKernel::backward_dq, FlashKernel::backward_dkv})
      ASSERT_LE(flash_smem_bytes(k, d), kH100OptinSmem) << "d " << d << " kernel " << int(k);
  }
  // d = 128 (GLM-130B): forward K^T and V tiles of 128 keys + 16 query rows.
  EXPECT_EQ(flash_smem_bytes(FlashKernel::forward, 128), 4 * (2 * 128 * 128 + 16 * 128));
  EXPECT_EQ(flash_per_lane(FlashKernel::forward, 128), 4);
  EXPECT_EQ(flash_per_lane(FlashKernel::forward, 256), 2);
  EXPECT_EQ(flash_per_lane(FlashKernel::backward_dkv, 256), 1);
}

TEST(CudaLaunchConfig, RowChunksAreBounded) {
  using namespace kernels::cuda;
  EXPECT_EQ(row_chunks(0), 1);
  EXPECT_EQ(row_chunks(1), 1);
  EXPECT_EQ(row_chunks(64), 2);
  EXPECT_EQ(row_chunks(1 << 20), kMaxRowChunks);
}

TEST(CudaGemmArgs, BadShapesAreRejectedBeforeAnyCudaCall) {
  using namespace kernels;
  float buf[16] = {};
  GemmArgs g;
  g.M = 2;
  g.N = 3;
  g.K = 4;
  g.A = buf;
  g.lda = 4;
  g.B = buf;
  g.ldb = 3;
  g.C = buf;
  g.ldc = 3;
  EXPECT_NO_THROW(cuda::check_gemm_args(g));
  g.lda = 3;  // < K
  EXPECT_THROW(cuda::check_gemm_args(g), Error);
  g.lda = 4;
  g.trans_b = Trans::T;  // B stored N x K: ldb must be >= K
  EXPECT_THROW(cuda::check_gemm_args(g), Error);
  g.ldb = 4;
  EXPECT_NO_THROW(cuda::check_gemm_args(g));
  g.C = nullptr;
  EXPECT_THROW(cuda::check_gemm_args(g), Error);
  g.C = buf;
  g.M = std::int64_t{1} << 32;  // beyond cuBLAS's int
  g.lda = g.M;
  EXPECT_THROW(cuda::check_gemm_args(g), Error);

  cuda::LtGemmArgs lt;
  lt.M = lt.N = lt.K = 2;
  lt.A = lt.B = lt.C = buf;
  lt.lda = lt.ldb = lt.ldc = 2;
  EXPECT_NO_THROW(cuda::check_lt_gemm_args(lt));
  lt.ab_type = DType::f32;  // fp32 inputs with an fp16 output: not a cuBLASLt combination
  EXPECT_THROW(cuda::check_lt_gemm_args(lt), Error);
  lt.c_type = DType::f32;
  EXPECT_NO_THROW(cuda::check_lt_gemm_args(lt));
  lt.ab_type = DType::bf16;  // bf16 inputs write fp32 or bf16, never fp16
  EXPECT_NO_THROW(cuda::check_lt_gemm_args(lt));
  lt.c_type = DType::bf16;
  EXPECT_NO_THROW(cuda::check_lt_gemm_args(lt));
  lt.c_type = DType::f16;
  EXPECT_THROW(cuda::check_lt_gemm_args(lt), Error);
  lt.ab_type = DType::i8;
  EXPECT_THROW(cuda::check_lt_gemm_args(lt), Error);
}

// A gradient view 64 bytes into the flat buffer must not be given to cuBLASLt as 256-byte
// aligned (its default assumption), nor a strided batch whose stride breaks the alignment.
TEST(CudaGemmArgs, CublasLtIsToldTheOperandsRealAlignment) {
  using kernels::cuda::lt_alignment;
  alignas(256) static unsigned char buf[1024];
  EXPECT_EQ(lt_alignment(buf, 0), 256u);
  EXPECT_EQ(lt_alignment(buf + 512, 0), 256u);  // capped at the largest cuBLASLt asks about
  EXPECT_EQ(lt_alignment(buf + 64, 0), 64u);    // ParamLayout's alignment of a parameter
  EXPECT_EQ(lt_alignment(buf + 2, 0), 2u);      // one fp16 element in
  EXPECT_EQ(lt_alignment(buf, 48), 16u);        // a batch stride of 24 fp16 elements
  EXPECT_EQ(lt_alignment(buf + 128, 1024), 128u);
}

TEST(CudaAdamW, ChunksTileTheSegmentsInOrder) {
  using namespace kernels::cuda;
  const std::vector<AdamWSegment> segs = {
      {0, 10, false}, {10, 10 + 3 * kAdamWChunk + 5, true}, {10 + 3 * kAdamWChunk + 5, 10 + 3 * kAdamWChunk + 6, false}};
  const std::vector<AdamWChunk> ch = adamw_chunks(segs);
  ASSERT_EQ(ch.size(), 1u + 4u + 1u);
  std::int64_t at = 0;
  for (const AdamWChunk& c : ch) {
    EXPECT_EQ(c.begin, at);
    EXPECT_GT(c.end, c.begin);
    EXPECT_LE(c.end - c.begin, kAdamWChunk);
    at = c.end;
  }
  EXPECT_EQ(at, segs.back().end);
  EXPECT_EQ(ch[0].decay, 0);
  EXPECT_EQ(ch[1].decay, 1);
  EXPECT_EQ(ch.back().decay, 0);
  const std::vector<AdamWSegment> gap = {{0, 5, false}, {6, 9, true}};
  EXPECT_THROW(adamw_chunks(gap), Error);
}

// The constants, applied with the kernel's operation order in plain fp32 host code, give
// optim::AdamW's result bit for bit: what the GPU kernel (same operations, correctly
// rounded intrinsics) must then reproduce (tests/cuda/test_cuda_adamw.cpp, on a GPU).
TEST(CudaAdamW, StepConstantsReproduceOptimAdamWOnTheHost) {
  modeldef::ModelConfig mc;
  mc.vocab_size = 64;
  mc.hidden_size = 16;
  mc.num_layers = 2;
  mc.num_heads = 2;
  mc.seq_length = 8;
  auto layout = std::make_shared<const modeldef::ParamLayout>(mc, modeldef::ModelShard{});
  const std::int64_t n = layout->total();
  optim::AdamWConfig cfg;
  Tensor master = Tensor::empty({n}, DType::f32), grad = Tensor::empty({n}, DType::f32);
  for (std::int64_t i = 0; i < n; ++i) {
    master.data<float>()[i] = std::sin(0.37f * i);
    grad.data<float>()[i] = std::cos(0.11f * i) * (i % 7 == 0 ? 100.f : 1.f);
  }
  std::vector<float> p(master.data<float>(), master.data<float>() + n), m(n, 0.f), v(n, 0.f);
  // Decay runs exactly as optim::AdamW builds them: matrices (and the embedding if set).
  std::vector<char> decay(n, 0);
  for (const modeldef::ParamPiece& piece :
       modeldef::pieces_in_range(*layout, modeldef::full_range(*layout)))
    if (optim::decays(layout->specs()[piece.spec_index].kind, cfg))
      for (std::int64_t i = piece.local_begin; i < piece.local_begin + piece.flat.size(); ++i)
        decay[i] = 1;
  optim::AdamW adam(layout, cfg, master);
  for (int t = 1; t <= 3; ++t) {
    const double lr = 1e-3 * t;
    const float inv_scale = 1.f / 1024.f;
    adam.step(grad, lr, inv_scale);
    const kernels::cuda::AdamWStepConstants c = kernels::cuda::adamw_step_constants(
        lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, t, inv_scale);
    for (std::int64_t i = 0; i < n; ++i) {
      volatile float g = grad.data<float>()[i] * c.inv_scale;
      volatile float m1 = c.beta1 * m[i];
      volatile float m2 = c.one_minus_beta1 * g;
      volatile float mi = m1 + m2;
      volatile float gg = g * g;
      volatile float v1 = c.beta2 * v[i];
      volatile float v2 = c.one_minus_beta2 * gg;
      volatile float vi = v1 + v2;
      m[i] = mi;
      v[i] = vi;
      volatile float sq = std::sqrt(static_cast<float>(vi));
      volatile float d1 = sq * c.inv_sqrt_bias2;
      volatile float denom = d1 + c.eps;
      volatile float ratio = mi / denom;
      volatile float upd = c.step_size * ratio;
      volatile float kept = p[i] * (decay[i] ? c.decay_keep : 1.f);
      p[i] = kept - upd;
    }
    for (std::int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::memcmp(&p[i], master.data<float>() + i, 4), 0)
          << "step " << t << " element " << i << ": " << p[i] << " vs " << master.data<float>()[i];
      ASSERT_EQ(std::memcmp(&m[i], adam.exp_avg().data<float>() + i, 4), 0) << i;
      ASSERT_EQ(std::memcmp(&v[i], adam.exp_avg_sq().data<float>() + i, 4), 0) << i;
    }
  }
}

}  // namespace
}  // namespace glm
