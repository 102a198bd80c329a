// The CUDA AdamW update against optim::AdamW bit for bit, and the device caching allocator
// (reuse and statistics through real Tensors). Skip without a GPU.
#include <gtest/gtest.h>

#include <memory>

#include "core/cuda_caching_allocator.h"
#include "cuda_test_util.h"
#include "kernels/cuda/cuda_adamw.h"
#include "modeldef/param_layout.h"
#include "optim/adamw.h"

namespace glm {
namespace {

using namespace cudatest;

TEST(CudaAdamW, UpdateIsBitIdenticalToOptimAdamW) {
  SKIP_WITHOUT_GPU();
  modeldef::ModelConfig mc;
  mc.vocab_size = 320;
  mc.hidden_size = 64;
  mc.num_layers = 3;
  mc.num_heads = 4;
  mc.seq_length = 16;
  auto layout = std::make_shared<const modeldef::ParamLayout>(mc, modeldef::ModelShard{});
  const std::int64_t n = layout->total();
  optim::AdamWConfig cfg;
  cfg.decay_embedding = true;
  Tensor master = random_tensor({n}, 1), grad = random_tensor({n}, 2, -50, 50);
  // The decay runs optim::AdamW uses (matrices, and here the embedding), as segments.
  std::vector<kernels::cuda::AdamWSegment> segs;
  std::int64_t at = 0;
  for (const modeldef::ParamPiece& piece :
       modeldef::pieces_in_range(*layout, modeldef::full_range(*layout))) {
    if (piece.local_begin > at) segs.push_back({at, piece.local_begin, false});
    segs.push_back({piece.local_begin, piece.local_begin + piece.flat.size(),
                    optim::decays(layout->specs()[piece.spec_index].kind, cfg)});
    at = piece.local_begin + piece.flat.size();
  }
  if (at < n) segs.push_back({at, n, false});
  kernels::AdamWUpdate update(segs, Device::cuda());
  Tensor pd = dev(master), md = Tensor::zeros({n}, DType::f32, Device::cuda()),
         vd = Tensor::zeros({n}, DType::f32, Device::cuda()), gd = dev(grad);
  optim::AdamW adam(layout, cfg, master);
  for (int t = 1; t <= 4; ++t) {
    const double lr = 3e-4 * t;
    const float inv_scale = t == 2 ? 1.f / 65536.f : 1.f;
    adam.step(grad, lr, inv_scale);
    update.step(pd, md, vd, gd,
                kernels::cuda::adamw_step_constants(lr, cfg.beta1, cfg.beta2, cfg.eps,
                                                    cfg.weight_decay, t, inv_scale));
    ASSERT_TRUE(bit_equal(host(pd), adam.master())) << "step " << t;
    ASSERT_TRUE(bit_equal(host(md), adam.exp_avg())) << "step " << t;
    ASSERT_TRUE(bit_equal(host(vd), adam.exp_avg_sq())) << "step " << t;
  }
  // A 16-bit run's update also writes the rounded parameters in the same pass: bit for bit
  // the CPU's fused rounding of the same master.
  const kernels::AdamWUpdate cpu_update(segs, Device::cpu());
  for (const DType type : {DType::f16, DType::bf16}) {
    Tensor p = host(pd), m = host(md), v = host(vd), r = Tensor::empty({n}, type);
    Tensor rd = Tensor::empty({n}, type, Device::cuda());
    const auto c = kernels::cuda::adamw_step_constants(1e-3, cfg.beta1, cfg.beta2, cfg.eps,
                                                       cfg.weight_decay, 5, 1.f);
    Tensor p2 = dev(p), m2 = dev(m), v2 = dev(v);
    cpu_update.step(p, m, v, grad, c, &r);
    update.step(p2, m2, v2, gd, c, &rd);
    EXPECT_TRUE(bit_equal(host(p2), p)) << dtype_name(type) << " master";
    EXPECT_TRUE(bit_equal(host(rd), r)) << dtype_name(type) << " rounded parameters";
  }
}

TEST(CudaCachingAllocator, TensorsReuseFreedDeviceBlocks) {
  SKIP_WITHOUT_GPU();
  const CacheStats before = cuda_cache_stats(0);
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1 << 20}, DType::f32, Device::cuda());
    first = t.raw();
  }
  Tensor u = Tensor::empty({(1 << 20) - 100}, DType::f32, Device::cuda());  // same size class
  EXPECT_EQ(u.raw(), first);
  const CacheStats after = cuda_cache_stats(0);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_GE(after.peak_in_use, std::size_t{4} << 20);
  EXPECT_NE(cuda_memory_report(0).find("cuda:0 in use"), std::string::npos);
}

}  // namespace
}  // namespace glm
