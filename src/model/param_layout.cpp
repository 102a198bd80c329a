#include "model/param_layout.h"

#include <cmath>

#include "core/error.h"

namespace glm::model {

std::string layer_prefix(int l) { return fmt::format("layers.{}.", l); }

ParamLayout::ParamLayout(const ModelConfig& c, const ModelShard& shard) : config_(c), shard_(shard) {
  GLM_CHECK(shard.tp_size == 1, "tensor-parallel parameter slices are not laid out yet");
  const std::int64_t h = c.hidden_size, f = c.ffn_hidden_size, V = c.vocab_size;
  auto xavier = [](std::int64_t out, std::int64_t in) {
    return static_cast<float>(std::sqrt(2.0 / static_cast<double>(out + in)));
  };
  // Xavier normal for every matrix; DeepNorm's beta additionally scales the value part of
  // QKV (done in init, per row), the attention output and both MLP matrices.
  const float beta = static_cast<float>(c.deepnorm_beta());
  if (shard.has_embedding || shard.has_head)
    add("embedding.weight", {V, h}, ParamKind::embedding, -1, static_cast<float>(c.init_std));
  for (int l = shard.first_layer; l < shard.end_layer(c); ++l) {
    std::string p = layer_prefix(l);
    add(p + "input_layernorm.weight", {h}, ParamKind::norm_weight, l, 0);
    add(p + "input_layernorm.bias", {h}, ParamKind::norm_bias, l, 0);
    add(p + "attention.query_key_value.weight", {3 * h, h}, ParamKind::matrix, l, xavier(3 * h, h));
    add(p + "attention.query_key_value.bias", {3 * h}, ParamKind::bias, l, 0);
    add(p + "attention.dense.weight", {h, h}, ParamKind::matrix, l, xavier(h, h) * beta);
    add(p + "attention.dense.bias", {h}, ParamKind::bias, l, 0);
    add(p + "post_attention_layernorm.weight", {h}, ParamKind::norm_weight, l, 0);
    add(p + "post_attention_layernorm.bias", {h}, ParamKind::norm_bias, l, 0);
    add(p + "mlp.dense_h_to_4h.weight", {2 * f, h}, ParamKind::matrix, l, xavier(2 * f, h) * beta);
    add(p + "mlp.dense_h_to_4h.bias", {2 * f}, ParamKind::bias, l, 0);
    add(p + "mlp.dense_4h_to_h.weight", {h, f}, ParamKind::matrix, l, xavier(h, f) * beta);
    add(p + "mlp.dense_4h_to_h.bias", {h}, ParamKind::bias, l, 0);
  }
  if (shard.has_head) {
    add("final_layernorm.weight", {h}, ParamKind::norm_weight, -1, 0);
    add("final_layernorm.bias", {h}, ParamKind::norm_bias, -1, 0);
  }
}

void ParamLayout::add(std::string name, Shape shape, ParamKind kind, int layer, float init_std) {
  ParamSpec s;
  s.name = std::move(name);
  s.global_shape = shape;
  s.global_offset = Shape(shape.size(), 0);
  s.shape = std::move(shape);
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

FlatParams::FlatParams(std::shared_ptr<const ParamLayout> layout, Device dev)
    : layout_(std::move(layout)) {
  flat_ = Tensor::zeros({layout_->total()}, DType::f32, dev);
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
  return {get(p + "input_layernorm.weight"),           get(p + "input_layernorm.bias"),
          get(p + "attention.query_key_value.weight"), get(p + "attention.query_key_value.bias"),
          get(p + "attention.dense.weight"),           get(p + "attention.dense.bias"),
          get(p + "post_attention_layernorm.weight"),  get(p + "post_attention_layernorm.bias"),
          get(p + "mlp.dense_h_to_4h.weight"),         get(p + "mlp.dense_h_to_4h.bias"),
          get(p + "mlp.dense_4h_to_h.weight"),         get(p + "mlp.dense_4h_to_h.bias")};
}

const Tensor& FlatParams::embedding() const { return get("embedding.weight"); }
const Tensor& FlatParams::final_ln_w() const { return get("final_layernorm.weight"); }
const Tensor& FlatParams::final_ln_b() const { return get("final_layernorm.bias"); }

}  // namespace glm::model
