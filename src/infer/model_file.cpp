#include "infer/model_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/h5_tensors.h"
#include "kernels/convert.h"
#include "modeldef/param_layout.h"

namespace glm::infer {

std::string tp_group(int rank) { return fmt::format("tp_{}/", rank); }

VocabSlice vocab_slice(std::int64_t V, int N, int r) {
  return {V * r / N, V * (r + 1) / N};
}

std::int64_t ModelFile::weight_bytes() const {
  std::int64_t n = static_cast<std::int64_t>(embedding.nbytes());
  for (const auto& w : layers)
    n += w.qkv.weight_bytes() + w.dense.weight_bytes() + w.w1.weight_bytes() + w.w2.weight_bytes();
  return n;
}

std::int64_t ModelFile::resident_bytes() const {
  std::int64_t n = static_cast<std::int64_t>(embedding.nbytes() + final_ln_w.nbytes() +
                                             final_ln_b.nbytes());
  for (const auto& w : layers) {
    for (const Tensor* t : {&w.ln_in_w, &w.ln_in_b, &w.ln_post_w, &w.ln_post_b,
                            &w.ln_attn_out_w, &w.ln_attn_out_b, &w.ln_mlp_out_w, &w.ln_mlp_out_b})
      if (t->defined()) n += static_cast<std::int64_t>(t->nbytes());
    n += w.qkv.bytes() + w.dense.bytes() + w.w1.bytes() + w.w2.bytes();
  }
  return n;
}

namespace {

class Reader {
 public:
  explicit Reader(const std::string& path) : h5_(path, H5File::Mode::read), path_(path) {}

  std::string attr(const std::string& name) const {
    try {
      return h5_.attr(name);
    } catch (const Error&) {
      throw InputError(
          fmt::format("{}: attribute '{}' missing: not a {} file", path_, name, kModelFormat));
    }
  }
  std::int64_t int_attr(const std::string& name) const {
    const std::string v = attr(name);
    try {
      return std::stoll(v);
    } catch (const std::exception&) {
      throw InputError(fmt::format("{}: attribute '{}' is '{}', not an integer", path_, name, v));
    }
  }
  Tensor read(const std::string& name, DType dtype, const Shape& shape) const {
    if (!h5_.has(name)) throw InputError(fmt::format("{}: dataset '{}' missing", path_, name));
    Tensor t = h5_.read(name);
    if (t.dtype() != dtype || t.shape() != shape)
      throw InputError(fmt::format("{}: dataset '{}' is {}, expected {} {}", path_, name,
                                   t.describe(), dtype_name(dtype), shape_str(shape)));
    return t;
  }
  // Rows [begin, end) of a [rows, cols] dataset of `dtype` holding `rows` rows.
  Tensor read_rows(const std::string& name, DType dtype, const Shape& shape, std::int64_t begin,
                   std::int64_t end) const {
    if (!h5_.has(name)) throw InputError(fmt::format("{}: dataset '{}' missing", path_, name));
    Tensor t = h5_.read_rows(name, begin, end - begin);
    if (t.dtype() != dtype || t.shape() != Shape{end - begin, shape[1]})
      throw InputError(fmt::format("{}: dataset '{}' rows [{}, {}) are {}, expected {} of a {} "
                                   "table",
                                   path_, name, begin, end, t.describe(), dtype_name(dtype),
                                   shape_str(shape)));
    return t;
  }
  Tensor read_bytes(const std::string& name) const {
    if (!h5_.has(name)) throw InputError(fmt::format("{}: dataset '{}' missing", path_, name));
    Tensor t = h5_.read(name);
    if (t.dtype() != DType::u8 || t.dim() != 1)
      throw InputError(
          fmt::format("{}: dataset '{}' is {}, expected u8 bytes", path_, name, t.describe()));
    return t;
  }
  // f16 on disk -> f32 in memory (norms and biases)
  Tensor read_f32(const std::string& name, const Shape& shape) const {
    Tensor h = read(name, DType::f16, shape);
    Tensor f = Tensor::empty(shape, DType::f32);
    kernels::f16_to_f32(f, h);
    return f;
  }
  kernels::LinearWeight linear(const std::string& name, std::int64_t out, std::int64_t in,
                               int bits, std::int64_t group, Tensor bias) const {
    if (bits == 16)
      return kernels::LinearWeight::of(read(name + ".weight", DType::f16, {out, in}),
                                       std::move(bias));
    kernels::QuantWeight q;
    const std::int64_t G = group == 0 ? in : group;
    if (in % G != 0)
      throw InputError(
          fmt::format("{}: group size {} does not divide {} of '{}'", path_, G, in, name));
    q.bits = bits;
    q.out = out;
    q.in = in;
    q.group = G;
    q.q = bits == 8 ? read(name + ".qweight", DType::i8, {out, in})
                    : read(name + ".qweight", DType::u8, {out, in / 2});
    q.scales = read(name + ".scales", DType::f16, {out, in / G});
    return kernels::LinearWeight::quantized(std::move(q), std::move(bias));
  }

 private:
  H5File h5_;
  std::string path_;
};

// The N tensor-parallel slices of a linear joined into the whole linear, as stored (no
// rounding: the quantized rows and their scales are moved, never requantized). `rows`: the
// slices are row blocks (QKV, whose rows are heads); otherwise column blocks along `in`
// (the row-parallel dense and W2), each keeping its own groups of G (a per-row slice's one
// scale becomes a group of in/N).
kernels::LinearWeight join_linear(const std::vector<kernels::LinearWeight>& parts, bool rows,
                                  Tensor bias) {
  const kernels::LinearWeight& p0 = parts[0];
  const std::int64_t N = static_cast<std::int64_t>(parts.size());
  const std::int64_t out = rows ? p0.out() * N : p0.out(), in = rows ? p0.in() : p0.in() * N;
  // [r, c] blocks of each part copied into a whole [out, cols * N or cols] byte table
  auto join = [&](auto tensor_of, DType dtype) {
    const Tensor& t0 = tensor_of(parts[0]);
    const std::int64_t r = t0.size(0), cb = static_cast<std::int64_t>(t0.nbytes()) / r;
    Tensor whole = Tensor::empty(rows ? Shape{r * N, t0.size(1)} : Shape{r, t0.size(1) * N}, dtype);
    auto* dst = static_cast<unsigned char*>(whole.raw());
    for (std::int64_t k = 0; k < N; ++k) {
      const auto* src = static_cast<const unsigned char*>(tensor_of(parts[k]).raw());
      for (std::int64_t i = 0; i < r; ++i)
        std::memcpy(rows ? dst + ((k * r + i) * cb) : dst + (i * N + k) * cb, src + i * cb,
                    static_cast<std::size_t>(cb));
    }
    return whole;
  };
  if (p0.bits >= 16)
    return kernels::LinearWeight::of(join([](const auto& w) -> const Tensor& { return w.dense; },
                                          p0.dense.dtype()),
                                     std::move(bias));
  kernels::QuantWeight q;
  q.bits = p0.quant.bits;
  q.out = out;
  q.in = in;
  q.group = p0.quant.group;
  q.q = join([](const auto& w) -> const Tensor& { return w.quant.q; }, p0.quant.q.dtype());
  q.scales = join([](const auto& w) -> const Tensor& { return w.quant.scales; }, DType::f16);
  return kernels::LinearWeight::quantized(std::move(q), std::move(bias));
}

// Rows [begin, end) of a linear, as stored (W1's x1 or x2 half of a slice).
kernels::LinearWeight linear_rows(const kernels::LinearWeight& w, std::int64_t begin,
                                  std::int64_t end) {
  if (w.bits >= 16) return kernels::LinearWeight::of(w.dense.slice(0, begin, end).clone());
  kernels::QuantWeight q = w.quant;
  q.out = end - begin;
  q.q = w.quant.q.slice(0, begin, end).clone();
  q.scales = w.quant.scales.slice(0, begin, end).clone();
  return kernels::LinearWeight::quantized(std::move(q));
}

// Concatenation of 1-D f32 tensors.
Tensor cat(const std::vector<Tensor>& parts) {
  std::int64_t n = 0;
  for (const Tensor& t : parts) n += t.numel();
  Tensor out = Tensor::empty({n}, DType::f32);
  float* d = out.data<float>();
  for (const Tensor& t : parts) d = std::copy_n(t.data<float>(), t.numel(), d);
  return out;
}

// The whole layer from its N shards: QKV's row blocks (heads) in shard order, dense's and
// W2's column blocks, W1's x1 halves then its x2 halves (each shard stores [x1 | x2] of its
// slice).
model::LayerWeights join_shards(const std::vector<model::LayerWeights>& shards) {
  model::LayerWeights w = shards[0];
  std::vector<kernels::LinearWeight> qkv, dense, w2, x1, x2;
  std::vector<Tensor> qkv_b, b1, b2;
  for (const auto& s : shards) {
    qkv.push_back(s.qkv);
    qkv_b.push_back(s.qkv.bias);
    dense.push_back(s.dense);
    w2.push_back(s.w2);
    const std::int64_t fl = s.w1.out() / 2;
    x1.push_back(linear_rows(s.w1, 0, fl));
    x2.push_back(linear_rows(s.w1, fl, 2 * fl));
    b1.push_back(s.w1.bias.slice(0, 0, fl));
    b2.push_back(s.w1.bias.slice(0, fl, 2 * fl));
  }
  w.qkv = join_linear(qkv, /*rows=*/true, cat(qkv_b));
  w.dense = join_linear(dense, /*rows=*/false, shards[0].dense.bias);
  w.w2 = join_linear(w2, /*rows=*/false, shards[0].w2.bias);
  std::vector<kernels::LinearWeight> halves = {join_linear(x1, true, {}), join_linear(x2, true, {})};
  std::vector<Tensor> bias_halves = {cat(b1), cat(b2)};
  w.w1 = join_linear(halves, /*rows=*/true, cat(bias_halves));
  return w;
}

}  // namespace

ModelFile load_model_file(const std::string& path, std::optional<int> shard) {
  if (!std::filesystem::exists(path)) throw InputError(fmt::format("{}: no such model file", path));
  std::unique_ptr<Reader> rd;
  try {
    rd = std::make_unique<Reader>(path);
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(fmt::format("{}: not a readable HDF5 model file ({})", path, e.what()));
  }
  const Reader& r = *rd;
  ModelFile m;
  m.path = path;
  if (r.attr("format") != kModelFormat)
    throw InputError(
        fmt::format("{}: format '{}', expected '{}'", path, r.attr("format"), kModelFormat));
  if (r.int_attr("version") != kModelFormatVersion)
    throw InputError(fmt::format("{}: version {}, this build reads version {}", path,
                                 r.attr("version"), kModelFormatVersion));
  m.bits = static_cast<int>(r.int_attr("bits"));
  m.group_size = r.int_attr("group_size");
  m.tp = static_cast<int>(r.int_attr("tp"));
  m.step = r.int_attr("step");
  if (m.bits != 16 && m.bits != 8 && m.bits != 4)
    throw InputError(fmt::format("{}: bits {} is not 16, 8 or 4", path, m.bits));
  try {
    m.config = modeldef::ModelConfig::from_json(nlohmann::json::parse(r.attr("model_config")),
                                                path + " (model_config)");
    m.run_config = nlohmann::json::parse(r.attr("run_config"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: bad config JSON: {}", path, e.what()));
  }
  const modeldef::ModelConfig& c = m.config;
  const std::int64_t V = c.vocab_size, h = c.hidden_size, f = c.ffn_hidden_size;
  const int N = m.tp;
  if (N < 1 || c.num_heads % N != 0 || f % N != 0)
    throw InputError(
        fmt::format("{}: tp {} does not divide heads {} and f {}", path, N, c.num_heads, f));
  if (shard && (*shard < 0 || *shard >= N))
    throw InputError(fmt::format("{}: exported for tp {}, so there is no shard {} (run it with "
                                 "mpirun -n {}, or in one process)",
                                 path, N, *shard, N));
  m.shard = shard ? *shard : -1;
  Tensor tok = r.read_bytes("tokenizer");
  m.tokenizer_bytes.assign(reinterpret_cast<const char*>(tok.raw()), tok.nbytes());
  // One rank of a tensor-parallel group holds its vocabulary rows of the embedding (the
  // tied head too); one process holds them all.
  const VocabSlice vs = shard ? vocab_slice(V, N, *shard) : VocabSlice{0, V};
  m.vocab_begin = vs.begin;
  m.embedding = shard ? r.read_rows("embedding.weight", DType::f16, {V, h}, vs.begin, vs.end)
                      : r.read("embedding.weight", DType::f16, {V, h});
  m.final_ln_w = r.read_f32("final_layernorm.weight", {h});
  m.final_ln_b = r.read_f32("final_layernorm.bias", {h});
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string pre = modeldef::layer_prefix(l);
    model::LayerWeights shared;
    shared.ln_in_w = r.read_f32(pre + "input_layernorm.weight", {h});
    shared.ln_in_b = r.read_f32(pre + "input_layernorm.bias", {h});
    shared.ln_post_w = r.read_f32(pre + "post_attention_layernorm.weight", {h});
    shared.ln_post_b = r.read_f32(pre + "post_attention_layernorm.bias", {h});
    if (c.has_sublayer_output_norms()) {
      shared.ln_attn_out_w = r.read_f32(pre + "attention.output_layernorm.weight", {h});
      shared.ln_attn_out_b = r.read_f32(pre + "attention.output_layernorm.bias", {h});
      shared.ln_mlp_out_w = r.read_f32(pre + "mlp.output_layernorm.weight", {h});
      shared.ln_mlp_out_b = r.read_f32(pre + "mlp.output_layernorm.bias", {h});
    }
    const Tensor dense_b = r.read_f32(pre + kDense + ".bias", {h});
    const Tensor b2 = r.read_f32(pre + kW2 + ".bias", {h});
    std::vector<model::LayerWeights> shards;
    for (int k = shard ? *shard : 0; k < (shard ? *shard + 1 : N); ++k) {
      const std::string rp = tp_group(k) + pre;
      model::LayerWeights R = shared;
      R.qkv = r.linear(rp + kQkv, 3 * h / N, h, m.bits, m.group_size,
                       r.read_f32(rp + kQkv + ".bias", {3 * h / N}));
      R.dense = r.linear(rp + kDense, h, h / N, m.bits, m.group_size, dense_b);
      R.w1 = r.linear(rp + kW1, 2 * f / N, h, m.bits, m.group_size,
                      r.read_f32(rp + kW1 + ".bias", {2 * f / N}));
      R.w2 = r.linear(rp + kW2, h, f / N, m.bits, m.group_size, b2);
      shards.push_back(std::move(R));
    }
    m.layers.push_back(shards.size() == 1 ? std::move(shards[0]) : join_shards(shards));
  }
  return m;
}

}  // namespace glm::infer
