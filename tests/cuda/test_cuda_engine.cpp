// The inference engine on CUDA (infer/engine.h) against the CPU engine on the same model
// file: fp16, INT8, INT4 per-row and grouped, tensor-parallel exports; a [gMASK] prefill plus
// decode steps and a [MASK] infilling sequence, teacher-forced (both engines are fed the
// same tokens, so their logits are compared at every step). The KV-cache attention kernel
// against the CPU backend of kernels/kv_attention.h. The host-side part (the random model files, the refusal
// of a CUDA engine without a GPU) runs everywhere; the rest skips visibly without a GPU.
#include <gtest/gtest.h>

#include <cstring>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "cuda_test_util.h"
#include "infer/engine.h"
#include "infer/generate.h"
#include "infer/model_file.h"
#include "kernels/convert.h"
#include "kernels/kv_attention.h"
#include "random_model_file.h"
#include "core/cuda_device.h"

namespace glm::cudatest {
namespace {

namespace fs = std::filesystem;

// h 256, a 4 (d 64), f 512, 2 layers, V 512: every linear has `in` a multiple of 128, so
// INT8/INT4 per-row and group 128 take the tensor-core path for several rows and group 64
// the per-row GEMV path; T 64.
constexpr const char* kModel = R"({"vocab_size": 512, "hidden_size": 256, "num_layers": 2,
  "num_heads": 4, "ffn_hidden_size": 512, "seq_length": 64, "hidden_dropout": 0.0,
  "attention_dropout": 0.0})";

// GPU vs CPU logits, |gpu - cpu| <= kLogitAtol * max|cpu|. The CPU engine keeps activations
// fp32; the CUDA engine rounds the input of every linear to fp16 (LN_in, ctx, LN_post and
// GeGLU outputs in each layer, the final LN before the head: 2^-12 relative on average per
// element). The weights are identical on both sides (the CUDA kernels multiply exact q by
// the fp32 scale after the fp16 products, like the CPU). A CPU forward with exactly those
// fp16 roundings inserted (a scratch copy of Engine::forward_cpu) differs from the fp32 one
// by 5.3e-5 to 6.0e-5 of max|logit| on these files (fp16, INT8, INT4 per-row, group 64,
// TP 2; max|logit| ~ 9.5); 1e-3 leaves ~17x for the GPU's other differences (fp32 summation
// order, expf within 2 ulp), each orders of magnitude smaller. A prefix off by one moves
// the logits by 8.2e-3 of their scale and one position off by 3.5e-3, which
// MaskAndPositionErrorsExceedTheTolerance keeps checking on the CPU reference.
constexpr double kLogitAtol = 1e-3;

// Worst |a - b| over all elements, relative to max |b|.
double rel_max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.numel(), b.numel());
  double scale = 0, diff = 0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    scale = std::max(scale, std::abs(double(b.data<float>()[i])));
    diff = std::max(diff, std::abs(double(a.data<float>()[i]) - b.data<float>()[i]));
  }
  return diff / scale;
}

// One tokenizer and one random model for the whole suite; files per format on demand.
class EngineFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One directory per process: ctest runs each test of the suite as its own process,
    // in parallel, and each suite's teardown removes its directory.
    dir_ = new std::string(
        (fs::temp_directory_path() / ("glm_cuda_engine_test_" + std::to_string(::getpid())))
            .string());
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    rc_ = new config::RunConfig(run_config(kModel));
    tok_ = new data::Tokenizer(synthetic_tokenizer());
    model_ = new model::GLMModel(random_model(rc_->model, 7, 0.05f));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete model_;
    delete tok_;
    delete rc_;
    delete dir_;
  }
  static std::string file(int bits, std::int64_t group, int tp) {
    const std::string p = *dir_ + "/m_" + std::to_string(bits) + "_" + std::to_string(group) +
                          "_tp" + std::to_string(tp) + ".h5";
    if (!fs::exists(p)) write_model(*model_, *rc_, *tok_, p, bits, group, tp);
    return p;
  }
  static const data::Tokenizer& tok() { return *tok_; }

 private:
  static std::string* dir_;
  static config::RunConfig* rc_;
  static data::Tokenizer* tok_;
  static model::GLMModel* model_;
};
std::string* EngineFiles::dir_ = nullptr;
config::RunConfig* EngineFiles::rc_ = nullptr;
data::Tokenizer* EngineFiles::tok_ = nullptr;
model::GLMModel* EngineFiles::model_ = nullptr;

// A teacher-forced sequence: the prefill (with its prefix length) and decode steps, each a
// token at a position; every step's logits are compared.
struct Sequence {
  std::vector<std::int32_t> tokens, positions;
  int prefix_len = 0;
  std::vector<std::int64_t> rows;                             // logit rows of the prefill
  std::vector<std::pair<std::int32_t, std::int32_t>> decode;  // (token, position)
};

// [gMASK] continuation: 10 context tokens, [gMASK], <sop>; then 6 generated tokens.
Sequence gmask_sequence(const data::SpecialTokens& sp) {
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(20 + 31 * i % 350);
  const infer::PromptLayout p = infer::layout_prompt(ids, sp);
  Sequence s;
  s.tokens = p.tokens;
  s.positions = p.positions;
  s.prefix_len = p.prefix_len;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(s.tokens.size()); ++i) s.rows.push_back(i);
  int pos = static_cast<int>(s.tokens.size());
  for (int t = 0; t < 6; ++t) s.decode.push_back({40 + 17 * t, pos++});
  return s;
}

// [MASK] infilling: A = 5 tokens [MASK] 4 tokens [MASK] 2 tokens (P = |A|), the first span's
// <sop> at the first [MASK]'s position, 3 span tokens there, <sop> of the second span at
// the second [MASK]'s position and 2 tokens. Prefill logits only for the last row and two
// others (the row gather).
Sequence mask_sequence(const data::SpecialTokens& sp) {
  std::vector<std::int32_t> ids = {30, 31, 32, 33, 34, sp.mask, 40, 41, 42, 43, sp.mask, 50, 51};
  const infer::PromptLayout p = infer::layout_prompt(ids, sp);
  Sequence s;
  s.tokens = p.tokens;
  s.positions = p.positions;
  s.prefix_len = p.prefix_len;
  s.tokens.push_back(sp.sop);
  s.positions.push_back(p.mask_positions[0]);
  s.rows = {2, 7, static_cast<std::int64_t>(s.tokens.size()) - 1};
  for (int t = 0; t < 3; ++t) s.decode.push_back({60 + t, p.mask_positions[0]});
  s.decode.push_back({sp.sop, p.mask_positions[1]});
  for (int t = 0; t < 2; ++t) s.decode.push_back({70 + t, p.mask_positions[1]});
  return s;
}

// The logits of every call of the sequence on one engine.
std::vector<Tensor> run_sequence(const infer::Engine& e, const Sequence& s) {
  infer::KVCache cache = e.new_cache(static_cast<int>(s.tokens.size() + s.decode.size()));
  std::vector<Tensor> out;
  out.push_back(e.forward(cache, s.tokens, s.positions, s.prefix_len, s.rows));
  const std::int64_t row = 0;
  for (auto [tok, pos] : s.decode)
    out.push_back(e.forward(cache, {&tok, 1}, {&pos, 1}, s.prefix_len, {&row, 1}));
  return out;
}

void expect_gpu_matches_cpu(const std::string& path, const Sequence& s) {
  infer::Engine cpu(infer::load_model_file(path));
  infer::Engine gpu(infer::load_model_file(path), Device::cuda());
  const std::vector<Tensor> want = run_sequence(cpu, s), got = run_sequence(gpu, s);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].device().is_cpu());
    ASSERT_EQ(got[i].shape(), want[i].shape());
    const double d = rel_max_diff(got[i], want[i]);
    EXPECT_LE(d, kLogitAtol) << path << ": call " << i << " (0 = prefill)";
  }
}

// --- host side: runs everywhere -------------------------------------------------------------

TEST_F(EngineFiles, CudaEngineWithoutGpuIsRefusedAndTheCpuEngineRunsTheFiles) {
  const std::string path = file(4, 64, 2);
  infer::Engine cpu(infer::load_model_file(path));
  const Sequence s = gmask_sequence(tok().special());
  const std::vector<Tensor> logits = run_sequence(cpu, s);
  ASSERT_EQ(logits.size(), s.decode.size() + 1);
  EXPECT_EQ(logits[0].shape(), (Shape{static_cast<std::int64_t>(s.rows.size()), 512}));
  for (const Tensor& t : logits)
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_TRUE(std::isfinite(t.data<float>()[i]));
  EXPECT_THROW(cpu.new_cache(0), InputError);
  if (cuda_device_count() > 0) {
    infer::Engine gpu(infer::load_model_file(path), Device::cuda());
    EXPECT_TRUE(gpu.device().is_cuda());
    EXPECT_TRUE(gpu.new_cache(8).device().is_cuda());
    return;
  }
  try {
    infer::Engine gpu(infer::load_model_file(path), Device::cuda());
    FAIL() << "a CUDA engine without a GPU";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device present"), std::string::npos) << e.what();
  }
}

// The tolerance above must be able to fail: a prefix off by one (a mask error) and one
// position off (a RoPE error) move the CPU logits by more than 2x kLogitAtol.
TEST_F(EngineFiles, MaskAndPositionErrorsExceedTheTolerance) {
  infer::Engine cpu(infer::load_model_file(file(16, 0, 1)));
  const Sequence s = gmask_sequence(tok().special());
  Sequence wrong_mask = s, wrong_pos = s;
  wrong_mask.prefix_len -= 1;
  wrong_pos.positions[3] += 1;
  const std::vector<Tensor> a = run_sequence(cpu, s), b = run_sequence(cpu, wrong_mask),
                            c = run_sequence(cpu, wrong_pos);
  EXPECT_GT(rel_max_diff(b[0], a[0]), 2 * kLogitAtol);
  EXPECT_GT(rel_max_diff(c[0], a[0]), 2 * kLogitAtol);
}

// --- GPU ----------------------------------------------------------------------------------

TEST_F(EngineFiles, Fp16MatchesCpu) {
  SKIP_WITHOUT_GPU();
  expect_gpu_matches_cpu(file(16, 0, 1), gmask_sequence(tok().special()));
}

TEST_F(EngineFiles, Int8PerRowMatchesCpu) {
  SKIP_WITHOUT_GPU();
  expect_gpu_matches_cpu(file(8, 0, 1), gmask_sequence(tok().special()));
}

TEST_F(EngineFiles, Int4PerRowMatchesCpu) {
  SKIP_WITHOUT_GPU();
  expect_gpu_matches_cpu(file(4, 0, 1), gmask_sequence(tok().special()));
}

TEST_F(EngineFiles, Int4Group64MatchesCpu) {
  SKIP_WITHOUT_GPU();
  expect_gpu_matches_cpu(file(4, 64, 1), gmask_sequence(tok().special()));
}

TEST_F(EngineFiles, Int4Group128MatchesCpu) {
  SKIP_WITHOUT_GPU();
  expect_gpu_matches_cpu(file(4, 128, 1), gmask_sequence(tok().special()));
}

TEST_F(EngineFiles, MaskInfillingMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const Sequence s = mask_sequence(tok().special());
  expect_gpu_matches_cpu(file(16, 0, 1), s);
  expect_gpu_matches_cpu(file(4, 64, 1), s);
}

// Two tensor-parallel shards run as two ranks on one GPU, partial products summed.
TEST_F(EngineFiles, TensorParallelExportsMatchCpu) {
  SKIP_WITHOUT_GPU();
  expect_gpu_matches_cpu(file(16, 0, 2), gmask_sequence(tok().special()));
  expect_gpu_matches_cpu(file(8, 0, 2), mask_sequence(tok().special()));
  expect_gpu_matches_cpu(file(4, 64, 2), gmask_sequence(tok().special()));
}

TEST_F(EngineFiles, GreedyGenerationRunsOnTheGpu) {
  SKIP_WITHOUT_GPU();
  infer::Engine gpu(infer::load_model_file(file(4, 0, 1)), Device::cuda());
  data::SpecialTokens sp = tok().special();
  sp.eop = -1;  // a random model may predict <eop>: run every step
  infer::GenerateOptions o;
  o.max_new_tokens = 20;
  std::vector<std::int32_t> prompt = {30, 31, 32};
  const infer::Generation g = infer::generate(gpu, sp, tok().vocab_size(), prompt, o);
  EXPECT_EQ(g.tokens.size(), 20u);
  for (std::int32_t t : g.tokens) EXPECT_TRUE(t >= 0 && t < tok().vocab_size()) << t;
}

TEST_F(EngineFiles, OversizedCudaCacheIsAnInputError) {
  SKIP_WITHOUT_GPU();
  infer::Engine gpu(infer::load_model_file(file(8, 0, 1)), Device::cuda());
  EXPECT_THROW(gpu.new_cache(1 << 20), InputError);
  EXPECT_THROW(gpu.new_cache(0), InputError);
}

// --- the attention kernel against the CPU reference ------------------------------------------

struct AttentionCase {
  int n, a, d, cap, t0, prefix_len, layer;
};

void expect_kv_attention_matches(const AttentionCase& c, DType kv = DType::f32) {
  const Shape qkv_shape{c.n, c.a, 3, c.d}, kv_shape{c.a, c.cap, c.d};
  const Tensor qkv = random_tensor(qkv_shape, 11);
  // the cache already holds t0 tokens (random); the rest of it is garbage on both sides
  Tensor K = random_tensor(kv_shape, 12), V = random_tensor(kv_shape, 13);
  if (kv != DType::f32) {  // an fp16 cache: the same values, rounded
    Tensor K16 = Tensor::empty(kv_shape, kv), V16 = Tensor::empty(kv_shape, kv);
    kernels::convert(K16, K);
    kernels::convert(V16, V);
    K = K16;
    V = V16;
  }
  Tensor Kd = dev(K), Vd = dev(V);
  Tensor ctx = Tensor::empty({c.n, c.a * c.d}, DType::f32);
  kernels::kv_attention_forward(ctx, qkv, K, V, c.t0, c.prefix_len, c.layer);
  Tensor ctx_d = Tensor::empty({c.n, c.a * c.d}, DType::f32, Device::cuda());
  kernels::kv_attention_forward(ctx_d, dev(qkv), Kd, Vd, c.t0, c.prefix_len, c.layer);
  Tensor got = host(ctx_d);
  EXPECT_TRUE(close(got, ctx, kF32Rtol, kF32Atol))
      << "n " << c.n << " t0 " << c.t0 << " P " << c.prefix_len << " d " << c.d;
  // the new keys and values are in the cache rows [t0, t0 + n), exactly
  const Tensor Kh = host(Kd), Vh = host(Vd);
  for (int h = 0; h < c.a; ++h)
    for (int i = 0; i < c.n; ++i)
      for (int e = 0; e < c.d; ++e) {
        const std::int64_t at = (static_cast<std::int64_t>(h) * c.cap + c.t0 + i) * c.d + e;
        const std::size_t w = dtype_bytes(kv, 1);
        ASSERT_EQ(std::memcmp(static_cast<const char*>(Kh.raw()) + at * w,
                              static_cast<const char*>(K.raw()) + at * w, w),
                  0);
        ASSERT_EQ(std::memcmp(static_cast<const char*>(Vh.raw()) + at * w,
                              static_cast<const char*>(V.raw()) + at * w, w),
                  0);
      }
}

TEST(CudaKvAttention, MatchesTheCpuBackend) {
  SKIP_WITHOUT_GPU();
  expect_kv_attention_matches({12, 4, 64, 20, 0, 11, 1});  // prefill, P inside it
  expect_kv_attention_matches({12, 4, 64, 20, 0, 12, 2});  // prefill all prefix
  expect_kv_attention_matches({1, 4, 64, 20, 12, 11, 2});  // decode step
  expect_kv_attention_matches({3, 2, 128, 40, 17, 5, 3});  // a few queries, d 128
  expect_kv_attention_matches({2, 3, 40, 9, 6, 8, 1});     // P ends in the new tokens
  expect_kv_attention_matches({1, 2, 96, 1, 0, 0, 1});     // first token, no prefix
}

// An fp16 cache (glm-generate --kv-cache fp16): the same rounding on both backends.
TEST(CudaKvAttention, Fp16CacheMatchesTheCpuBackend) {
  SKIP_WITHOUT_GPU();
  expect_kv_attention_matches({12, 4, 64, 20, 0, 11, 1}, DType::f16);
  expect_kv_attention_matches({1, 4, 64, 20, 12, 11, 2}, DType::f16);
}

// 14000 keys: the scores need 56 KB of shared memory, above the 48 KB default (the opt-in).
TEST(CudaKvAttention, LongCacheUsesOptInSharedMemory) {
  SKIP_WITHOUT_GPU();
  expect_kv_attention_matches({1, 2, 64, 14000, 13999, 100, 1});
}

}  // namespace
}  // namespace glm::cudatest
