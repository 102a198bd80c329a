// The named table of a model's parameters and the flat buffers laid out from it.
//
// Every parameter of the part of the model a rank holds (its ModelShard: a range of layers
// and, later, a tensor-parallel slice) is one row of a ParamLayout: name, local shape, the
// global shape and offset of that piece in the full tensor (what checkpoints store), its
// kind (which decides init and weight decay) and its offset in the flat buffer.
// A FlatParams is one contiguous fp32 Tensor over such a layout (parameters, gradients, Adam
// moments all use the same layout), with a typed view per parameter and per layer, so no
// code does pointer arithmetic and ZeRO sharding is offset arithmetic on one buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "model/model_config.h"

namespace glm::model {

// Which part of the model this rank holds (DESIGN.md section 4). Default: all of it.
struct ModelShard {
  int first_layer = 0;
  int last_layer = -1;        // exclusive; -1 = num_layers
  bool has_embedding = true;  // the first pipeline stage
  bool has_head = true;       // the last pipeline stage (final LN and tied head)
  int tp_rank = 0, tp_size = 1;
  int end_layer(const ModelConfig& c) const { return last_layer < 0 ? c.num_layers : last_layer; }
};

enum class ParamKind { matrix, bias, norm_weight, norm_bias, embedding };

struct ParamSpec {
  std::string name;  // "layers.3.mlp.dense_h_to_4h.weight"
  Shape shape;       // local shape held here
  Shape global_shape;
  Shape global_offset;  // where this piece starts in the global tensor
  ParamKind kind;
  int layer = -1;        // -1 outside the transformer layers
  float init_std = 0.f;  // matrices and embedding: normal(0, init_std)
  std::int64_t offset = 0;  // in the flat buffer, in elements
  std::int64_t numel() const { return shape_numel(shape); }
};

class ParamLayout {
 public:
  ParamLayout(const ModelConfig& config, const ModelShard& shard);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  std::int64_t total() const { return total_; }
  const ParamSpec& spec(const std::string& name) const;  // throws naming the parameter
  int index(const std::string& name) const;              // -1 when absent
  const ModelConfig& config() const { return config_; }
  const ModelShard& shard() const { return shard_; }

 private:
  void add(std::string name, Shape shape, ParamKind kind, int layer, float init_std);
  ModelConfig config_;
  ModelShard shard_;
  std::vector<ParamSpec> specs_;
  std::unordered_map<std::string, int> index_;
  std::int64_t total_ = 0;
};

// The parameters of one transformer layer as views into a flat buffer.
struct LayerParams {
  Tensor ln_in_w, ln_in_b;      // [h]
  Tensor qkv_w, qkv_b;          // [3h, h] rows per head as [a, 3, d]; [3h]
  Tensor dense_w, dense_b;      // [h, h]; [h]
  Tensor ln_post_w, ln_post_b;  // [h]
  Tensor w1, b1;                // [2f, h] (x1 rows then x2 rows); [2f]
  Tensor w2, b2;                // [h, f]; [h]
};

class FlatParams {
 public:
  FlatParams() = default;
  // Zero-filled; shares ownership of the layout so copies and moves stay valid.
  explicit FlatParams(std::shared_ptr<const ParamLayout> layout, Device dev = Device::cpu());

  Tensor& flat() { return flat_; }
  const Tensor& flat() const { return flat_; }
  const Tensor& get(const std::string& name) const;
  const Tensor& at(int i) const { return views_.at(i); }
  LayerParams layer(int l) const;  // l is the global layer index
  const Tensor& embedding() const;
  const Tensor& final_ln_w() const;
  const Tensor& final_ln_b() const;
  const ParamLayout& layout() const { return *layout_; }

 private:
  std::shared_ptr<const ParamLayout> layout_;
  Tensor flat_;
  std::vector<Tensor> views_;
};

std::string layer_prefix(int l);  // "layers.<l>."

}  // namespace glm::model
