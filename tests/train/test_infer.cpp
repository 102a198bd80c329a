// Export and inference (docs/design.md section 8) on a randomly initialised tiny model saved as a
// real checkpoint: the engine's fp16 logits against GLMModel::forward_logits on the same
// fp16-rounded weights, KV-cache decode against full recomputation, INT8/INT4 against fp16,
// tensor-parallel shards against one shard, glm-eval's loss against the trainer's, the
// prompt layout against the collator's samples, and refusal of a corrupted checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "checkpoint/reshard.h"
#include "core/allocator.h"
#include "core/h5_tensors.h"
#include "core/half.h"
#include "data/data_pipeline.h"
#include "infer/device.h"
#include "infer/engine.h"
#include "infer/export.h"
#include "infer/generate.h"
#include "infer/perplexity.h"
#include "model/glm_model.h"
#include "plan/inference_plan.h"
#include "train/trainer.h"
#include "train_test_util.h"

namespace glm::infer {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test under the build tree.
std::string test_dir(const std::string& name) {
  const std::string d = std::string(GLM_BINARY_DIR) + "/test_infer/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// tiny (h=128, N=2, a=4, f=384, T=128, V=6016) with 2 training steps so LayerNorms and biases
// are no longer their init constants; saved as a one-process checkpoint.
struct Saved {
  config::RunConfig rc;
  std::string ckpt;
  Tensor params;     // fp32 master weights, flat over the one-process layout
  double eval_loss;  // the trainer's held-out loss (fp32 weights)
  train::EvalResult eval;
};

Saved save_tiny(const std::string& dir, const std::vector<std::string>& more = {}) {
  Saved s;
  std::vector<std::string> sets = {"train.train_iters=2", "train.eval_iters=2"};
  sets.insert(sets.end(), more.begin(), more.end());
  s.rc = glm::testing::tiny_run(sets);
  train::Trainer t(s.rc, {.log_dir = dir + "/log"});
  t.train_step();
  t.train_step();
  s.ckpt = t.save(dir + "/ckpt").dir;
  s.params = t.model().params().flat().clone();
  s.eval = t.evaluate();
  s.eval_loss = s.eval.loss;
  return s;
}

std::string export_to(const Saved& s, const std::string& out, int bits, std::int64_t group = 0,
                      int tp = 1, const std::string& st = "") {
  ExportOptions o;
  o.load = s.ckpt;
  o.bits = bits;
  o.group_size = group;
  o.tp = tp;
  o.out = out;
  o.safetensors = st;
  export_model(o);
  return out;
}

// The fp32 model on the export's fp16-rounded weights (every tensor is stored fp16 at 16 bits).
model::GLMModel rounded_model(const Saved& s) {
  model::GLMModel m(s.rc.model, {.precision = modeldef::Precision::fp32});
  Tensor& flat = m.params().flat();
  GLM_CHECK(flat.numel() == s.params.numel(), "layout mismatch");
  for (std::int64_t i = 0; i < flat.numel(); ++i)
    flat.data<float>()[i] = round_to_half(s.params.data<float>()[i]);
  return m;
}

// max |a - b| over max |b|, and the relative L2 error ||a - b|| / ||b||
struct Diff {
  double max_rel = 0, l2_rel = 0;
};
Diff diff(const float* a, const float* b, std::int64_t n) {
  double mx = 0, md = 0, se = 0, sb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    mx = std::max(mx, std::abs(double(b[i])));
    md = std::max(md, std::abs(double(a[i]) - b[i]));
    se += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    sb += double(b[i]) * b[i];
  }
  return {md / mx, std::sqrt(se / sb)};
}

// Held-out samples as the trainer evaluates them ([gMASK] and [MASK] kinds, padding).
modeldef::Batch heldout(const config::RunConfig& rc, data::Tokenizer& tok, int first, int B) {
  data::DataPipeline p(rc.train.data_dir, "valid", tok, rc.objective, rc.model.seq_length,
                        static_cast<std::uint64_t>(rc.train.seed) ^ data::kEvalSeedSalt);
  return p.micro_batch(first, B);
}

// Engine logits for every valid position of sample b of a batch.
Tensor engine_logits(const Engine& e, const modeldef::Batch& batch, int b) {
  const std::int64_t T = batch.seq_len();
  const int L = batch.valid_len.data<std::int32_t>()[b],
            P = batch.prefix_len.data<std::int32_t>()[b];
  std::vector<std::int64_t> rows(L);
  for (int i = 0; i < L; ++i) rows[i] = i;
  KVCache cache = e.new_cache(static_cast<int>(T));
  return e.forward(cache, {batch.tokens.data<std::int32_t>() + b * T, static_cast<std::size_t>(L)},
                   {batch.positions.data<std::int32_t>() + b * T, static_cast<std::size_t>(L)}, P,
                   rows);
}

// Same weights, same math, fp32 activations on both sides: only summation order differs
// (GEMM blocking vs the fused fp16 kernels, softmax exp): 2.4e-7 of the logits' scale
// observed; 1e-5 leaves room without hiding a wrong mask, position or weight (those move
// logits by 1e-2 or more of their scale).
constexpr double kEngineVsModel = 1e-5;

TEST(Infer, Fp16PrefillMatchesModelForwardLogits) {
  const std::string dir = test_dir("prefill");
  Saved s = save_tiny(dir);
  Engine e(load_model_file(export_to(s, dir + "/m16.h5", 16)));
  model::GLMModel m = rounded_model(s);
  data::Tokenizer tok = data::load_tokenizer(s.rc.train.data_dir);
  modeldef::Batch batch = heldout(s.rc, tok, 0, 6);  // seed 1234: both sample kinds among 6
  Tensor want = m.forward_logits(batch);          // [B*T, V]
  const std::int64_t T = batch.seq_len(), V = s.rc.model.vocab_size;
  int kinds[2] = {0, 0};
  for (int b = 0; b < batch.batch_size(); ++b) {
    const int L = batch.valid_len.data<std::int32_t>()[b];
    ++kinds[L == T ? 0 : 1];  // [MASK] samples are shorter than T (padding)
    Tensor got = engine_logits(e, batch, b);
    Diff d = diff(got.data<float>(), want.data<float>() + b * T * V, L * V);
    EXPECT_LT(d.max_rel, kEngineVsModel) << "sample " << b << " (L " << L << ")";
  }
  EXPECT_GT(kinds[0], 0);
  EXPECT_GT(kinds[1], 0);
}

TEST(Infer, DecodeWithCacheEqualsFullRecomputation) {
  const std::string dir = test_dir("decode");
  Saved s = save_tiny(dir);
  for (int bits : {16, 4}) {
    Engine e(load_model_file(export_to(s, dir + "/m.h5", bits, bits == 4 ? 32 : 0)));
    // [gMASK] prompt of 20 tokens, then 12 tokens fed one at a time
    std::vector<std::int32_t> toks, pos;
    for (int i = 0; i < 32; ++i) {
      toks.push_back((i * 977 + 13) % 5000 + 10);
      pos.push_back(i);
    }
    const int P = 19, prompt = 20;
    KVCache cache = e.new_cache(64);
    std::vector<std::int64_t> last = {prompt - 1};
    e.forward(cache, {toks.data(), static_cast<std::size_t>(prompt)},
              {pos.data(), static_cast<std::size_t>(prompt)}, P, last);
    for (int t = prompt; t < 32; ++t) {
      const std::int64_t row0 = 0;
      Tensor step = e.forward(cache, {&toks[t], 1}, {&pos[t], 1}, P, {&row0, 1});
      KVCache fresh = e.new_cache(64);
      const std::int64_t row = t;
      Tensor full = e.forward(fresh, {toks.data(), static_cast<std::size_t>(t + 1)},
                              {pos.data(), static_cast<std::size_t>(t + 1)}, P, {&row, 1});
      // GEMV vs small-GEMM summation order only: <= 1e-7 relative observed
      EXPECT_LT(diff(step.data<float>(), full.data<float>(), step.numel()).max_rel, 2e-6)
          << "bits " << bits << " step " << t;
    }
  }
}

TEST(Infer, QuantizedLogitsCloseToFp16) {
  const std::string dir = test_dir("quant");
  Saved s = save_tiny(dir);
  Engine e16(load_model_file(export_to(s, dir + "/m16.h5", 16)));
  data::Tokenizer tok = data::load_tokenizer(s.rc.train.data_dir);
  modeldef::Batch batch = heldout(s.rc, tok, 0, 2);
  Tensor ref = engine_logits(e16, batch, 0);
  // relative L2 error of the logits; measured on this model: int8 per-row 0.03%, int4
  // group-32 0.42%, int4 per-row 0.53% (int4's step is 18x int8's); bounds ~5x that
  const std::map<std::pair<int, int>, double> bound = {
      {{8, 0}, 0.002}, {{4, 32}, 0.02}, {{4, 0}, 0.03}};
  double err8 = 0;
  for (const auto& [cfg, tol] : bound) {
    Engine eq(load_model_file(export_to(s, dir + "/mq.h5", cfg.first, cfg.second)));
    Tensor got = engine_logits(eq, batch, 0);
    const double l2 = diff(got.data<float>(), ref.data<float>(), ref.numel()).l2_rel;
    EXPECT_LT(l2, tol) << "bits " << cfg.first << " group " << cfg.second;
    EXPECT_GT(l2, 0) << "quantization must change something";
    if (cfg.first == 8)
      err8 = l2;
    else
      EXPECT_GT(l2, err8) << "int4 is coarser than int8";
  }
}

// int8 activations (Engine::set_activations): the INT4 engine's logits with x rounded per
// block of 32 stay near the exact-activation logits (the rounding adds an error of the
// order of the weights' own, 0.2% rms per element, kernels/quant.h) and do change them.
TEST(Infer, Int8ActivationsStayCloseToExactActivations) {
  const std::string dir = test_dir("act8");
  Saved s = save_tiny(dir);
  data::Tokenizer tok = data::load_tokenizer(s.rc.train.data_dir);
  modeldef::Batch batch = heldout(s.rc, tok, 0, 2);
  Engine exact(load_model_file(export_to(s, dir + "/m4.h5", 4, 64)));
  Engine fast(load_model_file(dir + "/m4.h5"));
  fast.set_activations(kernels::QuantActivations::int8);
  EXPECT_EQ(fast.activations(), kernels::QuantActivations::int8);
  const Tensor a = engine_logits(exact, batch, 0), b = engine_logits(fast, batch, 0);
  const double l2 = diff(b.data<float>(), a.data<float>(), a.numel()).l2_rel;
  EXPECT_GT(l2, 0) << "int8 activations must change the product";
  EXPECT_LT(l2, 0.02);  // int4's own error vs fp16 is bounded at 0.02-0.03 above
  EXPECT_THROW(infer::parse_activations("int4"), InputError);
}

// An fp16 KV cache (Engine::set_kv_cache, --kv-cache fp16): half the bytes a token, and
// logits that move only by the rounding of each cached key and value.
TEST(Infer, Fp16KvCacheHalvesTheCacheAndStaysCloseToFp32) {
  const std::string dir = test_dir("kv16");
  Saved s = save_tiny(dir);
  data::Tokenizer tok = data::load_tokenizer(s.rc.train.data_dir);
  modeldef::Batch batch = heldout(s.rc, tok, 0, 2);
  Engine e32(load_model_file(export_to(s, dir + "/m16.h5", 16)));
  Engine e16(load_model_file(dir + "/m16.h5"));
  e16.set_kv_cache(DType::f16);
  EXPECT_EQ(e16.kv_cache(), DType::f16);
  EXPECT_EQ(2 * e16.new_cache(64).bytes(), e32.new_cache(64).bytes());
  EXPECT_GE(e16.max_cache_tokens(), e32.max_cache_tokens());
  const Tensor a = engine_logits(e32, batch, 0), b = engine_logits(e16, batch, 0);
  const double l2 = diff(b.data<float>(), a.data<float>(), a.numel()).l2_rel;
  std::cout << "fp16 KV cache: logits relative L2 " << l2 << "\n";
  EXPECT_GT(l2, 0) << "fp16 keys and values must change something";
  EXPECT_LT(l2, 1e-4);  // measured 8.9e-6
  EXPECT_THROW(e16.set_kv_cache(DType::bf16), InputError);
  EXPECT_THROW(infer::parse_kv_cache("bf16"), InputError);
  EXPECT_EQ(infer::parse_kv_cache("fp16"), DType::f16);
}

// The other LayerNorm placements (model.layernorm) through export and the engine: the
// export carries the placement in its config and sandwich's output LNs; prefill matches the
// model's forward, tensor-parallel shards match one shard, and KV-cache decode matches
// recomputing the whole sequence.
TEST(Infer, LayerNormPlacementsExportAndServe) {
  for (const char* placement : {"pre_ln", "sandwich"}) {
    const std::string dir = test_dir(std::string("placement_") + placement);
    Saved s = save_tiny(dir, {std::string("model.layernorm=") + placement});
    const ModelFile f1 = load_model_file(export_to(s, dir + "/tp1.h5", 16));
    ASSERT_EQ(f1.config.layernorm, s.rc.model.layernorm) << placement;
    Engine e1(f1);
    Engine e2(load_model_file(export_to(s, dir + "/tp2.h5", 16, 0, 2)));
    model::GLMModel m = rounded_model(s);
    data::Tokenizer tok = data::load_tokenizer(s.rc.train.data_dir);
    modeldef::Batch batch = heldout(s.rc, tok, 0, 2);
    Tensor want = m.forward_logits(batch);
    const std::int64_t T = batch.seq_len(), V = s.rc.model.vocab_size;
    for (int b = 0; b < batch.batch_size(); ++b) {
      const int L = batch.valid_len.data<std::int32_t>()[b];
      Tensor got = engine_logits(e1, batch, b);
      EXPECT_LT(diff(got.data<float>(), want.data<float>() + b * T * V, L * V).max_rel,
                kEngineVsModel)
          << placement << " sample " << b;
      EXPECT_LT(diff(engine_logits(e2, batch, b).data<float>(), got.data<float>(), got.numel()).max_rel,
                1e-5)
          << placement << " tp 2, sample " << b;
    }
    // KV-cache decode of the last 4 tokens of a 16-token [gMASK] prompt sequence
    std::vector<std::int32_t> toks, pos;
    for (int i = 0; i < 16; ++i) toks.push_back((i * 977 + 13) % 5000 + 10), pos.push_back(i);
    const int P = 11;
    KVCache cache = e1.new_cache(32);
    const std::int64_t last = P;
    e1.forward(cache, {toks.data(), 12}, {pos.data(), 12}, P, {&last, 1});
    for (int t = 12; t < 16; ++t) {
      const std::int64_t row0 = 0, row = t;
      Tensor step = e1.forward(cache, {&toks[t], 1}, {&pos[t], 1}, P, {&row0, 1});
      KVCache fresh = e1.new_cache(32);
      Tensor full = e1.forward(fresh, {toks.data(), static_cast<std::size_t>(t + 1)},
                               {pos.data(), static_cast<std::size_t>(t + 1)}, P, {&row, 1});
      EXPECT_LT(diff(step.data<float>(), full.data<float>(), step.numel()).max_rel, 2e-6)
          << placement << " step " << t;
    }
  }
}

// A rank of a tensor-parallel group holds its share: 1/N of every linear and its bias (the
// row-parallel biases whole), its vocabulary rows of the embedding, plus the replicated
// LayerNorms, counted here from the config; the N ranks together hold the one-process
// weights plus N-1 copies of the replicated parts.
TEST(Infer, ARankLoadsOnlyItsShard) {
  const std::string dir = test_dir("shard_bytes");
  Saved s = save_tiny(dir);
  const modeldef::ModelConfig& c = s.rc.model;
  const std::int64_t h = c.hidden_size, f = c.ffn_hidden_size, V = c.vocab_size, N = 2;
  const std::string path = export_to(s, dir + "/tp2.h5", 16, 0, 2);
  const std::int64_t replicated =
      2 * h * 4 /*final LN*/ + c.num_layers * (4 * h * 4 /*LNs*/ + 2 * h * 4 /*dense, W2 bias*/);
  const std::int64_t linears = c.num_layers * ((3 * h * h + h * h + 2 * f * h + f * h) * 2 +
                                               (3 * h + 2 * f) * 4 /*column-parallel biases*/);
  std::int64_t total = 0;
  for (int r = 0; r < N; ++r) {
    const ModelFile m = load_model_file(path, r);
    EXPECT_EQ(m.shard, r);
    ASSERT_EQ(m.layers.size(), static_cast<std::size_t>(c.num_layers));
    const VocabSlice vs = vocab_slice(V, N, r);
    EXPECT_EQ(m.vocab_begin, vs.begin);
    EXPECT_EQ(m.embedding.shape(), (Shape{vs.size(), h}));
    EXPECT_EQ(m.resident_bytes(), replicated + linears / N + vs.size() * h * 2 /*fp16*/)
        << "rank " << r;
    total += m.resident_bytes();
  }
  EXPECT_EQ(load_model_file(path).resident_bytes(), replicated + linears + V * h * 2);
  EXPECT_EQ(total, N * replicated + linears + V * h * 2);
  // The vocabulary splits as evenly as integers allow, whatever V and N.
  for (const auto& [v, n] : {std::pair<std::int64_t, int>{6018, 4}, {7, 3}, {150528, 8}}) {
    std::int64_t next = 0;
    for (int r = 0; r < n; ++r) {
      const VocabSlice vs = vocab_slice(v, n, r);
      EXPECT_EQ(vs.begin, next);
      EXPECT_TRUE(vs.size() == v / n || vs.size() == v / n + 1) << v << " over " << n;
      next = vs.end;
    }
    EXPECT_EQ(next, v);
  }
  // glm-plan --inference counts what a rank holds, weights and KV cache, for fp16 and INT4.
  const plan::Hardware hw =
      plan::load_hardware(std::string(GLM_SOURCE_DIR) + "/configs/hardware/a100-80g.json");
  for (const auto& [bits, group] : {std::pair{16, 0}, std::pair{4, 32}}) {
    const std::string file = export_to(s, fmt::format("{}/tp2_{}.h5", dir, bits), bits, group, 2);
    const plan::InferencePlan p = plan::plan_inference(
        c, {.bits = bits, .group_size = group, .gpus = 2, .batch = 1, .context = 40}, hw);
    const ModelFile m = load_model_file(file, 1);
    EXPECT_EQ(static_cast<std::int64_t>(p.linear_bytes + p.scale_bytes + p.replicated_bytes),
              m.resident_bytes())
        << bits << "-bit";
    EXPECT_EQ(static_cast<std::int64_t>(p.kv_bytes), KVCache(c, 2, 40, Device::cpu()).bytes());
  }
  try {
    load_model_file(path, 2);
    ADD_FAILURE() << "shard 2 of a tp 2 export must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mpirun -n 2"), std::string::npos) << e.what();
  }
}

// The activation bytes glm-plan --inference and the rank log count for a prefill
// (plan::inference_activation_bytes) bound what the engine's prefill allocates on top of
// its weights and KV cache, measured by the allocator's peak, and are not loose: the
// count is within 1.25x of the measured peak (6-8% above it observed), for fp16 and INT4 weights and for a short and a
// full-context prompt.
TEST(Infer, PrefillAllocatesWhatThePlanCounts) {
  const std::string dir = test_dir("prefill_bytes");
  Saved s = save_tiny(dir);
  const modeldef::ModelConfig& c = s.rc.model;
  for (const auto& [bits, group] : {std::pair{16, 0}, std::pair{4, 32}}) {
    Engine e(load_model_file(export_to(s, fmt::format("{}/m{}.h5", dir, bits), bits, group)));
    for (const int n : {16, c.seq_length}) {
      KVCache cache = e.new_cache(c.seq_length);
      std::vector<std::int32_t> toks(n), pos(n);
      for (int i = 0; i < n; ++i) toks[i] = (i * 977 + 13) % 5000 + 10, pos[i] = i;
      const std::int64_t last = n - 1;
      const std::size_t before = memory_stats(DeviceKind::cpu).in_use;
      reset_peak_memory(DeviceKind::cpu);
      Tensor logits = e.forward(cache, toks, pos, n - 1, {&last, 1});
      const double measured = static_cast<double>(memory_stats(DeviceKind::cpu).peak - before);
      const double counted = plan::inference_activation_bytes(c, 1, n);
      EXPECT_LE(measured, counted) << bits << "-bit, " << n << " tokens";
      EXPECT_LE(counted, 1.25 * measured) << bits << "-bit, " << n << " tokens";
    }
  }
}

// A tp-N export served in one process: its slices joined into the whole model.
TEST(Infer, TensorParallelShardsMatchOneShard) {
  const std::string dir = test_dir("tp");
  Saved s = save_tiny(dir);
  Engine e1(load_model_file(export_to(s, dir + "/tp1.h5", 16)));
  Engine e2(load_model_file(export_to(s, dir + "/tp2.h5", 16, 0, 2)));
  Engine e4(load_model_file(export_to(s, dir + "/tp4.h5", 16, 0, 4)));
  ASSERT_EQ(e2.model().tp, 2);
  data::Tokenizer tok = data::load_tokenizer(s.rc.train.data_dir);
  modeldef::Batch batch = heldout(s.rc, tok, 0, 1);
  Tensor ref = engine_logits(e1, batch, 0);
  // In one process a tp-N file's slices are joined into the whole fp16 linears: the same
  // bytes as the tp-1 export's, so the same logits bit for bit.
  EXPECT_TRUE(glm::testing::bit_equal(engine_logits(e2, batch, 0), ref));
  EXPECT_TRUE(glm::testing::bit_equal(engine_logits(e4, batch, 0), ref));
  for (int l = 0; l < s.rc.model.num_layers; ++l)
    for (const Engine* e : {&e2, &e4}) {
      const model::LayerWeights &a = e->model().layers[l], &b = e1.model().layers[l];
      for (const auto& [x, y] : {std::pair{&a.qkv, &b.qkv}, {&a.dense, &b.dense}, {&a.w1, &b.w1},
                                 {&a.w2, &b.w2}}) {
        EXPECT_TRUE(glm::testing::bit_equal(x->dense, y->dense)) << "layer " << l;
        EXPECT_TRUE(glm::testing::bit_equal(x->bias, y->bias)) << "layer " << l;
      }
    }
  // INT4 in groups of 32: a slice's groups are the whole tensor's groups, so the joined
  // packed nibbles and scales are the tp-1 export's, byte for byte.
  Engine q1(load_model_file(export_to(s, dir + "/q1.h5", 4, 32)));
  Engine q2(load_model_file(export_to(s, dir + "/q2.h5", 4, 32, 2)));
  for (int l = 0; l < s.rc.model.num_layers; ++l) {
    const model::LayerWeights &a = q2.model().layers[l], &b = q1.model().layers[l];
    for (const auto& [x, y] : {std::pair{&a.qkv, &b.qkv}, {&a.dense, &b.dense}, {&a.w1, &b.w1},
                               {&a.w2, &b.w2}}) {
      EXPECT_EQ(x->quant.group, y->quant.group);
      EXPECT_TRUE(glm::testing::bit_equal(x->quant.q, y->quant.q)) << "layer " << l;
      EXPECT_TRUE(glm::testing::bit_equal(x->quant.scales, y->quant.scales)) << "layer " << l;
    }
  }
  EXPECT_TRUE(glm::testing::bit_equal(engine_logits(q2, batch, 0), engine_logits(q1, batch, 0)));
  // an int4 export cut for tp 2 needs G to divide every local input dimension
  ExportOptions bad;
  bad.load = s.ckpt;
  bad.bits = 4;
  bad.group_size = 128;  // dense's local in is h/2 = 64
  bad.tp = 2;
  bad.out = dir + "/bad.h5";
  try {
    export_model(bad);
    ADD_FAILURE() << "group 128 with tp 2 must be refused";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("--group-size"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/bad.h5"));
}

TEST(Infer, EvalLossMatchesModelAndTrainer) {
  const std::string dir = test_dir("eval");
  Saved s = save_tiny(dir);
  Engine e(load_model_file(export_to(s, dir + "/m16.h5", 16)));
  data::Tokenizer tok = data::Tokenizer::from_bytes(e.model().tokenizer_bytes);
  const std::string valid = s.rc.train.data_dir + "/valid.h5";
  PerplexityResult r = evaluate_perplexity(e, tok, valid, 0);
  // default: the trainer's evaluation set, eval_iters x micro_batch_size samples
  EXPECT_EQ(r.samples, std::int64_t{s.rc.train.eval_iters} * s.rc.train.micro_batch_size);
  // the same samples through GLMModel::forward_loss on the fp16-rounded weights
  model::GLMModel m = rounded_model(s);
  double sum = 0;
  std::int64_t n = 0;
  for (int i = 0; i < s.rc.train.eval_iters; ++i) {
    const int mb = s.rc.train.micro_batch_size;
    model::LossStats st = m.forward_loss(heldout(s.rc, tok, i * mb, mb));
    sum += st.loss_sum;
    n += st.num_targets;
  }
  EXPECT_EQ(r.tokens, n);
  EXPECT_NEAR(r.loss, sum / n, 1e-5 * sum / n);  // fp32 summation order only
  // and the trainer's own eval_loss on the fp32 weights: fp16 rounding of the weights moves
  // the loss of this model by ~1e-6 relative (8.68352 vs 8.68351)
  EXPECT_NEAR(r.loss, s.eval_loss, 1e-4 * s.eval_loss);
  EXPECT_NEAR(r.perplexity, std::exp(r.loss), 1e-9 * r.perplexity);
  // bits per byte: the same held-out bytes as the trainer counts, and the same definition
  EXPECT_EQ(r.bytes, s.eval.bytes);
  EXPECT_GT(r.bytes, r.tokens);  // pieces are longer than a byte on average
  EXPECT_NEAR(r.bits_per_byte, r.loss * r.tokens / std::log(2.0) / r.bytes, 1e-9);
  EXPECT_NEAR(r.bits_per_byte, s.eval.bits_per_byte(), 1e-4 * r.bits_per_byte);
}

TEST(Infer, PromptLayoutFollowsTheCollator) {
  config::RunConfig rc = glm::testing::tiny_run();
  data::Tokenizer tok = data::load_tokenizer(rc.train.data_dir);
  const auto& sp = tok.special();
  modeldef::Batch batch = heldout(rc, tok, 0, 8);
  const std::int64_t T = batch.seq_len();
  int seen[2] = {0, 0};
  for (int b = 0; b < batch.batch_size(); ++b) {
    const std::int32_t* tk = batch.tokens.data<std::int32_t>() + b * T;
    const std::int32_t* ps = batch.positions.data<std::int32_t>() + b * T;
    const int P = batch.prefix_len.data<std::int32_t>()[b];
    if (tk[P - 1] == sp.gmask) {
      // [gMASK] sample: the context alone must lay out as the sample's first P + 1 tokens
      ++seen[0];
      PromptLayout p = layout_prompt({tk, static_cast<std::size_t>(P - 1)}, sp);
      EXPECT_EQ(p.prefix_len, P);
      ASSERT_EQ(p.tokens.size(), static_cast<std::size_t>(P + 1));
      for (int i = 0; i <= P; ++i) {
        EXPECT_EQ(p.tokens[i], tk[i]) << i;
        EXPECT_EQ(p.positions[i], ps[i]) << i;
      }
      EXPECT_EQ(p.tokens[P], sp.sop);
    } else {
      // [MASK] sample: part A is the prefix; each part-B <sop> sits at a [MASK]'s position
      ++seen[1];
      PromptLayout p = layout_prompt({tk, static_cast<std::size_t>(P)}, sp);
      EXPECT_EQ(p.prefix_len, P);
      EXPECT_TRUE(p.infill());
      for (int i = 0; i < P; ++i) EXPECT_EQ(p.positions[i], ps[i]);
      for (int i = P; i < batch.valid_len.data<std::int32_t>()[b]; ++i)
        if (tk[i] == sp.sop)
          EXPECT_NE(std::find(p.mask_positions.begin(), p.mask_positions.end(), ps[i]),
                    p.mask_positions.end());
    }
  }
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
}

TEST(Infer, GenerationIsDeterministicAndGreedyMatchesArgmax) {
  const std::string dir = test_dir("generate");
  Saved s = save_tiny(dir);
  Engine e(load_model_file(export_to(s, dir + "/m8.h5", 8)));
  data::Tokenizer tok = data::Tokenizer::from_bytes(e.model().tokenizer_bytes);
  const auto ids = tok.encode("The quick brown fox");
  GenerateOptions o;
  o.max_new_tokens = 6;
  Generation g = generate(e, tok.special(), tok.vocab_size(), ids, o);
  // greedy: each token is the argmax of a full recomputation of the sequence so far
  std::vector<std::int32_t> seq = g.prompt.tokens, pos = g.prompt.positions;
  for (std::int32_t t : g.tokens) {
    KVCache c = e.new_cache(64);
    const std::int64_t row = static_cast<std::int64_t>(seq.size()) - 1;
    Tensor z = e.forward(c, seq, pos, g.prompt.prefix_len, {&row, 1});
    const float* p = z.data<float>();
    EXPECT_EQ(t, std::max_element(p, p + tok.vocab_size()) - p);
    seq.push_back(t);
    pos.push_back(static_cast<std::int32_t>(pos.size()));
  }
  // sampling: the same seed gives the same tokens
  o.sampling = {.temperature = 1.f, .top_k = 50, .top_p = 0.9f, .seed = 7};
  EXPECT_EQ(generate(e, tok.special(), tok.vocab_size(), ids, o).tokens,
            generate(e, tok.special(), tok.vocab_size(), ids, o).tokens);
  // infilling: tokens fill the blank at the [MASK]'s position
  const auto mids = tok.encode("The quick [MASK] jumps");
  Generation f = generate(e, tok.special(), tok.vocab_size(), mids, o);
  ASSERT_TRUE(f.prompt.infill());
  EXPECT_EQ(f.prompt.prefix_len, static_cast<int>(mids.size()));
}

// A model whose first choice is <eop> generates nothing; the note says why and names
// --min-new-tokens, which then gives the tokens asked for. The final LayerNorm is set to
// output the <eop> row of the tied embedding, so the head scores <eop> highest.
TEST(Infer, AnEmptyContinuationIsExplainedAndMinNewTokensFillsIt) {
  const std::string dir = test_dir("empty");
  Saved s = save_tiny(dir);
  ModelFile m = load_model_file(export_to(s, dir + "/m16.h5", 16));
  data::Tokenizer tok = data::Tokenizer::from_bytes(m.tokenizer_bytes);
  const std::int32_t eop = tok.special().eop;
  const std::int64_t h = m.config.hidden_size;
  const std::uint16_t* e = m.embedding.data<std::uint16_t>() + eop * h;  // f16
  for (std::int64_t i = 0; i < h; ++i) {
    m.final_ln_w.data<float>()[i] = 0.f;
    m.final_ln_b.data<float>()[i] = 100.f * half_to_float(e[i]);
  }
  Engine engine(std::move(m));
  const auto ids = tok.encode("The quick brown fox");
  GenerateOptions o;
  o.max_new_tokens = 8;
  Generation g = generate(engine, tok.special(), tok.vocab_size(), ids, o);
  EXPECT_TRUE(g.tokens.empty());
  EXPECT_TRUE(g.span_finished[0]);
  const std::string note = empty_generation_note(g, o);
  EXPECT_NE(note.find("<eop>"), std::string::npos) << note;
  EXPECT_NE(note.find("--min-new-tokens"), std::string::npos) << note;
  o.min_new_tokens = 3;
  Generation filled = generate(engine, tok.special(), tok.vocab_size(), ids, o);
  EXPECT_GE(filled.tokens.size(), 3u);
  EXPECT_EQ(empty_generation_note(filled, o), "");
  o.max_new_tokens = o.min_new_tokens = 0;  // nothing asked for: nothing to explain
  EXPECT_EQ(empty_generation_note(generate(engine, tok.special(), tok.vocab_size(), ids, o), o),
            "");
}

TEST(Infer, ExportRefusesACorruptedCheckpoint) {
  const std::string dir = test_dir("corrupt");
  Saved s = save_tiny(dir);
  const std::string rank = s.ckpt + "/rank_00000.h5";
  {
    std::fstream f(rank, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(rank) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(rank) / 2));
    c ^= 0x5A;
    f.write(&c, 1);
  }
  ExportOptions o;
  o.load = dir + "/ckpt";
  o.bits = 8;
  o.out = dir + "/m.h5";
  try {
    export_model(o);
    ADD_FAILURE() << "a corrupted checkpoint must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rank_00000.h5"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/m.h5"));
}

// glm-export and glm-ckpt reshard read a checkpoint one tensor at a time: the host memory
// they allocate beyond what was in use before stays within a few of the largest tensor's
// size, on a model (24 layers) whose master weights alone are several times that bound.
TEST(Infer, ExportAndReshardHoldOneTensorAtATime) {
  const std::string dir = test_dir("one_tensor");
  config::RunConfig rc = glm::testing::tiny_run({"model.num_layers=24", "train.train_iters=1"});
  std::string ckpt;
  {
    train::Trainer t(rc, {.log_dir = dir + "/log"});
    t.train_step();
    ckpt = t.save(dir + "/ckpt").dir;
  }
  const modeldef::ParamLayout layout(rc.model, {});
  std::size_t largest = 0;
  for (const auto& spec : layout.specs())
    largest = std::max(largest, static_cast<std::size_t>(spec.numel()) * sizeof(float));
  const std::size_t bound = 3 * largest + (1u << 20);
  const std::size_t master = static_cast<std::size_t>(layout.total()) * sizeof(float);
  ASSERT_GT(master, 2 * bound) << "the model must be large enough for the bound to mean something";

  auto extra_peak = [](auto&& run) {
    const std::size_t before = memory_stats(DeviceKind::cpu).in_use;
    reset_peak_memory(DeviceKind::cpu);
    run();
    return memory_stats(DeviceKind::cpu).peak - before;
  };
  const std::size_t exported = extra_peak([&] {
    ExportOptions o;
    o.load = ckpt;
    o.bits = 4;
    o.group_size = 64;
    o.tp = 2;
    o.out = dir + "/m.h5";
    o.safetensors = dir + "/m.safetensors";
    export_model(o);
  });
  EXPECT_LE(exported, bound) << "largest tensor " << largest << " bytes, master " << master;
  const std::size_t resharded = extra_peak([&] {
    checkpoint::reshard_checkpoint(ckpt, std::nullopt, dir + "/resharded",
                                   {.dp = 2, .tp = 2, .pp = 2, .zero = true});
  });
  EXPECT_LE(resharded, bound) << "largest tensor " << largest << " bytes, master " << master;
  // what was written is what the checkpoint holds
  EXPECT_TRUE(glm::testing::bit_equal(glm::testing::checkpoint_master(dir + "/resharded", 1, rc.model),
                                      glm::testing::checkpoint_master(dir + "/ckpt", 1, rc.model)));
}

TEST(Infer, SafetensorsHeaderDescribesTheTensors) {
  const std::string dir = test_dir("safetensors");
  Saved s = save_tiny(dir);
  export_to(s, dir + "/m4.h5", 4, 64, 1, dir + "/m4.safetensors");
  std::ifstream f(dir + "/m4.safetensors", std::ios::binary);
  unsigned char le[8];
  f.read(reinterpret_cast<char*>(le), 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | le[i];
  ASSERT_EQ(n % 8, 0u);
  std::string header(n, ' ');
  f.read(header.data(), static_cast<std::streamsize>(n));
  auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["format"], "glm-model");
  EXPECT_EQ(j["__metadata__"]["bits"], "4");
  const auto& q = j["tp_0/layers.1.mlp.dense_4h_to_h.qweight"];
  EXPECT_EQ(q["dtype"], "U8");
  EXPECT_EQ(q["shape"], nlohmann::json({128, 192}));  // [h, f/2]
  const auto& sc = j["tp_0/layers.1.mlp.dense_4h_to_h.scales"];
  EXPECT_EQ(sc["dtype"], "F16");
  EXPECT_EQ(sc["shape"], nlohmann::json({128, 6}));  // f / 64
  // the bytes at the recorded offsets are the HDF5 file's
  H5File h5(dir + "/m4.h5", H5File::Mode::read);
  Tensor ref = h5.read("tp_0/layers.1.mlp.dense_4h_to_h.qweight");
  const std::uint64_t b = q["data_offsets"][0], e = q["data_offsets"][1];
  ASSERT_EQ(e - b, ref.nbytes());
  std::string bytes(e - b, '\0');
  f.seekg(static_cast<std::streamoff>(8 + n + b));
  f.read(bytes.data(), static_cast<std::streamsize>(e - b));
  EXPECT_EQ(0, std::memcmp(bytes.data(), ref.raw(), ref.nbytes()));
}

}  // namespace
}  // namespace glm::infer
