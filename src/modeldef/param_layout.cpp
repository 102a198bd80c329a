#include "modeldef/param_layout.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace glm::modeldef {

std::string layer_prefix(int l) { return fmt::format("layers.{}.", l); }

void ModelShard::validate(const ModelConfig& c, const std::string& what) const {
  std::vector<std::string> bad;
  if (tp_size < 1 || tp_rank < 0 || tp_rank >= tp_size)
    bad.push_back(fmt::format("tp rank {} of {}", tp_rank, tp_size));
  else {
    if (c.num_heads % tp_size)
      bad.push_back(
          fmt::format("model.num_heads {} is not divisible by tp {}", c.num_heads, tp_size));
    if (c.vocab_size % tp_size)
      bad.push_back(
          fmt::format("model.vocab_size {} is not divisible by tp {}", c.vocab_size, tp_size));
    if (c.ffn_hidden_size % tp_size)
      bad.push_back(
          fmt::format("the GeGLU inner size (model.ffn_hidden_size) {} is not divisible "
                      "by tp {}",
                      c.ffn_hidden_size, tp_size));
  }
  if (first_layer < 0 || end_layer(c) > c.num_layers || first_layer > end_layer(c))
    bad.push_back(fmt::format("layers [{}, {}) outside the model's {}", first_layer, end_layer(c),
                              c.num_layers));
  if (!bad.empty()) throw InputError(fmt::format("{}: {}", what, fmt::join(bad, "; ")));
}

ParamLayout::ParamLayout(const ModelConfig& c, const ModelShard& shard)
    : config_(c), shard_(shard) {
  shard.validate(c, "model shard");
  const std::int64_t h = c.hidden_size, f = c.ffn_hidden_size, V = c.vocab_size;
  auto xavier = [](std::int64_t out, std::int64_t in) {
    return static_cast<float>(std::sqrt(2.0 / static_cast<double>(out + in)));
  };
  // Xavier normal per projection, of the full (unsharded) projection's fan-in and fan-out:
  // q, k and v are each [h, h] and the GeGLU's two halves each [f, h], as the paper
  // initialises them, though they are stored fused. DeepNorm's beta additionally scales the
  // value part of QKV (done in init, per row), the attention output and both MLP matrices
  // (1 for the other LayerNorm placements).
  const float beta = static_cast<float>(c.init_beta());
  if (shard.has_embedding || shard.has_head)
    add("embedding.weight", {V, h}, Split::rows, ParamKind::embedding, -1,
        static_cast<float>(c.init_std));
  for (int l = shard.first_layer; l < shard.end_layer(c); ++l) {
    std::string p = layer_prefix(l);
    add(p + "input_layernorm.weight", {h}, Split::replicated, ParamKind::norm_weight, l, 0);
    add(p + "input_layernorm.bias", {h}, Split::replicated, ParamKind::norm_bias, l, 0);
    add(p + "attention.query_key_value.weight", {3 * h, h}, Split::rows, ParamKind::matrix, l,
        xavier(h, h));
    add(p + "attention.query_key_value.bias", {3 * h}, Split::rows, ParamKind::bias, l, 0);
    add(p + "attention.dense.weight", {h, h}, Split::columns, ParamKind::matrix, l,
        xavier(h, h) * beta);
    add(p + "attention.dense.bias", {h}, Split::replicated, ParamKind::bias, l, 0);
    if (c.has_sublayer_output_norms()) {
      add(p + "attention.output_layernorm.weight", {h}, Split::replicated, ParamKind::norm_weight,
          l, 0);
      add(p + "attention.output_layernorm.bias", {h}, Split::replicated, ParamKind::norm_bias, l,
          0);
    }
    add(p + "post_attention_layernorm.weight", {h}, Split::replicated, ParamKind::norm_weight, l,
        0);
    add(p + "post_attention_layernorm.bias", {h}, Split::replicated, ParamKind::norm_bias, l, 0);
    add(p + "mlp.dense_h_to_4h.weight", {2, f, h}, Split::halves, ParamKind::matrix, l,
        xavier(f, h) * beta);
    add(p + "mlp.dense_h_to_4h.bias", {2, f}, Split::halves, ParamKind::bias, l, 0);
    add(p + "mlp.dense_4h_to_h.weight", {h, f}, Split::columns, ParamKind::matrix, l,
        xavier(h, f) * beta);
    add(p + "mlp.dense_4h_to_h.bias", {h}, Split::replicated, ParamKind::bias, l, 0);
    if (c.has_sublayer_output_norms()) {
      add(p + "mlp.output_layernorm.weight", {h}, Split::replicated, ParamKind::norm_weight, l, 0);
      add(p + "mlp.output_layernorm.bias", {h}, Split::replicated, ParamKind::norm_bias, l, 0);
    }
  }
  if (shard.has_head) {
    add("final_layernorm.weight", {h}, Split::replicated, ParamKind::norm_weight, -1, 0);
    add("final_layernorm.bias", {h}, Split::replicated, ParamKind::norm_bias, -1, 0);
  }
  // The last stage's tied embedding is a copy of the first stage's (gradients summed over
  // the embedding group); the first stage writes it.
  if (shard.has_head && !shard.has_embedding) specs_[index_.at("embedding.weight")].primary = false;
}

void ParamLayout::add(std::string name, Shape global_shape, Split split, ParamKind kind, int layer,
                      float init_std) {
  const int t = shard_.tp_size, r = shard_.tp_rank;
  ParamSpec s;
  s.name = std::move(name);
  s.global_shape = global_shape;
  s.global_offset = Shape(global_shape.size(), 0);
  s.box_shape = global_shape;
  const std::size_t cut = split == Split::rows ? 0 : 1;  // the dimension split over TP
  if (split != Split::replicated) {
    s.box_shape[cut] = global_shape[cut] / t;
    s.global_offset[cut] = r * s.box_shape[cut];
  }
  s.primary = split != Split::replicated || r == 0;
  s.shape = s.box_shape;
  if (split == Split::halves) {  // [2, f/t, ...] used as [2f/t, ...]
    s.shape.erase(s.shape.begin());
    s.shape[0] *= 2;
  }
  s.kind = kind;
  s.layer = layer;
  s.init_std = init_std;
  s.offset = total_;
  // Keep every tensor 64-byte aligned inside the flat buffer (16 floats).
  total_ += (s.numel() + 15) / 16 * 16;
  index_[s.name] = static_cast<int>(specs_.size());
  specs_.push_back(std::move(s));
}

int ParamLayout::index(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

const ParamSpec& ParamLayout::spec(const std::string& name) const {
  int i = index(name);
  if (i < 0) throw Error(fmt::format("no parameter named '{}' in this model shard", name));
  return specs_[i];
}

FlatParams::FlatParams(std::shared_ptr<const ParamLayout> layout, Device dev, MemoryKind kind,
                       DType dtype, std::int64_t capacity)
    : layout_(std::move(layout)) {
  GLM_CHECK(dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16,
            "a flat parameter buffer is f32, f16 or bf16, not {}", dtype_name(dtype));
  const std::int64_t total = layout_->total();
  GLM_CHECK(capacity == 0 || capacity >= total,
            "a flat buffer of capacity {} cannot hold the layout's {} elements", capacity, total);
  const MemoryScope scope(kind);
  padded_ = Tensor::zeros({std::max(capacity, total)}, dtype, dev);
  flat_ = padded_.slice(0, 0, total);
  for (const auto& s : layout_->specs())
    views_.push_back(flat_.slice(0, s.offset, s.offset + s.numel()).view(s.shape));
}

const Tensor& FlatParams::get(const std::string& name) const {
  int i = layout_->index(name);
  if (i < 0) throw Error(fmt::format("no parameter named '{}' in this model shard", name));
  return views_[i];
}

LayerParams FlatParams::layer(int l) const {
  std::string p = layer_prefix(l);
  LayerParams w{
      get(p + "input_layernorm.weight"),           get(p + "input_layernorm.bias"),
      get(p + "attention.query_key_value.weight"), get(p + "attention.query_key_value.bias"),
      get(p + "attention.dense.weight"),           get(p + "attention.dense.bias"),
      get(p + "post_attention_layernorm.weight"),  get(p + "post_attention_layernorm.bias"),
      get(p + "mlp.dense_h_to_4h.weight"),         get(p + "mlp.dense_h_to_4h.bias"),
      get(p + "mlp.dense_4h_to_h.weight"),         get(p + "mlp.dense_4h_to_h.bias"),
      {}, {}, {}, {}};  // the sub-layer output norms, set below where the model has them
  if (layout_->config().has_sublayer_output_norms()) {
    w.ln_attn_out_w = get(p + "attention.output_layernorm.weight");
    w.ln_attn_out_b = get(p + "attention.output_layernorm.bias");
    w.ln_mlp_out_w = get(p + "mlp.output_layernorm.weight");
    w.ln_mlp_out_b = get(p + "mlp.output_layernorm.bias");
  }
  return w;
}

const Tensor& FlatParams::embedding() const { return get("embedding.weight"); }
const Tensor& FlatParams::final_ln_w() const { return get("final_layernorm.weight"); }
const Tensor& FlatParams::final_ln_b() const { return get("final_layernorm.bias"); }

}  // namespace glm::modeldef
