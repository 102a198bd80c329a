// The named table of a model's parameters and the flat buffers laid out from it.
//
// Every parameter of the part of the model a rank holds (its ModelShard: a range of layers
// and, later, a tensor-parallel slice) is one row of a ParamLayout: name, local shape, the
// global shape and offset of that piece in the full tensor (what checkpoints store), its
// kind (which decides init and weight decay) and its offset in the flat buffer.
// A FlatParams is one contiguous Tensor over such a layout (parameters, gradients, Adam
// moments all use the same layout), fp32 or, for the parameters of a 16-bit run, f16 / bf16,
// with a typed view per parameter and per layer, so no code does pointer arithmetic and
// ZeRO sharding is offset arithmetic on one buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/allocator.h"
#include "core/box.h"
#include "core/tensor.h"
#include "modeldef/model_config.h"

namespace glm::modeldef {

// Which part of the model this rank holds (docs/design.md section 4). Default: all of it.
// Tensor parallelism (Megatron style) cuts, for tp_size t and tp_rank r:
//   embedding [V, h]        rows (vocabulary) [r V/t, (r+1) V/t)
//   QKV [3h, h] + bias      rows, i.e. heads [r a/t, (r+1) a/t) (rows are [a, 3, d])
//   attention.dense [h, h]  columns (row-parallel: its input is the local heads' context)
//   W1 [2f, h] + bias       rows [r f/t, (r+1) f/t) of the x1 half AND the same of x2
//   W2 [h, f]               columns (row-parallel)
//   LayerNorms, the row-parallel biases (dense, W2): replicated on every TP rank.
struct ModelShard {
  int first_layer = 0;
  int last_layer = -1;        // exclusive; -1 = num_layers
  bool has_embedding = true;  // the first pipeline stage
  bool has_head = true;       // the last pipeline stage (final LN and tied head)
  int tp_rank = 0, tp_size = 1;
  int end_layer(const ModelConfig& c) const { return last_layer < 0 ? c.num_layers : last_layer; }
  int local_heads(const ModelConfig& c) const { return c.num_heads / tp_size; }
  int local_ffn(const ModelConfig& c) const { return c.ffn_hidden_size / tp_size; }
  std::int64_t local_vocab(const ModelConfig& c) const { return c.vocab_size / tp_size; }
  std::int64_t vocab_start(const ModelConfig& c) const { return tp_rank * local_vocab(c); }
  // What a shard cannot be: heads, vocabulary or f not divisible by tp, layers outside
  // [0, N). InputError naming the sizes (`what` says where they came from).
  void validate(const ModelConfig& c, const std::string& what) const;
};

enum class ParamKind { matrix, bias, norm_weight, norm_bias, embedding };

// Pieces are boxes in a tensor's global frame (core/box.h). The frame is the tensor's
// global shape, except for W1 and its bias, whose frame is [2, f, h] / [2, f]: the x1 and
// x2 halves, so that a tensor-parallel piece (a slice of each half) is one box. Row-major
// order is the same in both views, so a piece's memory is its box, element for element.
struct ParamSpec {
  std::string name;     // "layers.3.mlp.dense_h_to_4h.weight"
  Shape shape;          // local shape as the model uses it ([2f/t, h] for W1)
  Shape global_shape;   // the frame: the full tensor ([2, f, h] for W1)
  Shape global_offset;  // where this piece's box starts in the frame
  Shape box_shape;      // the piece's box in the frame ([2, f/t, h] for W1; else = shape)
  // This rank writes the piece to checkpoints and counts it in the gradient norm: false
  // for copies (a replicated parameter on tp_rank > 0; the last stage's tied embedding
  // when it is not also the first stage).
  bool primary = true;
  ParamKind kind;
  int layer = -1;           // -1 outside the transformer layers
  float init_std = 0.f;     // matrices and embedding: normal(0, init_std)
  std::int64_t offset = 0;  // in the flat buffer, in elements
  std::int64_t numel() const { return shape_numel(shape); }
  Box box() const { return {global_offset, box_shape}; }
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
  // How a parameter is cut over the TP group.
  enum class Split { replicated, rows, columns, halves };
  void add(std::string name, Shape global_shape, Split split, ParamKind kind, int layer,
           float init_std);
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
  // sandwich only (empty otherwise): the LNs on the attention's and the MLP's output
  Tensor ln_attn_out_w, ln_attn_out_b, ln_mlp_out_w, ln_mlp_out_b;  // [h]
  // (under tensor parallelism: local heads a/t and inner size f/t in place of a and f)
};

class FlatParams {
 public:
  FlatParams() = default;
  // Zero-filled, of `dtype` (f32, f16 or bf16); shares ownership of the layout so copies and
  // moves stay valid. The buffer counts as `kind` in the memory accounting (core/allocator.h).
  // `capacity` (0: the layout's total) allocates that many elements, the tail beyond the
  // layout staying zero: the ZeRO-1 plan's padded size, so the optimizer's reduce-scatter and
  // all-gather work on the buffer in place (optim/sharded_optimizer.h).
  explicit FlatParams(std::shared_ptr<const ParamLayout> layout, Device dev = Device::cpu(),
                      MemoryKind kind = MemoryKind::workspace, DType dtype = DType::f32,
                      std::int64_t capacity = 0);

  Tensor& flat() { return flat_; }  // [layout.total()]
  const Tensor& flat() const { return flat_; }
  // [capacity]: flat() followed by the zero tail (the same storage).
  const Tensor& padded() const { return padded_; }
  const Tensor& get(const std::string& name) const;
  const Tensor& at(int i) const { return views_.at(i); }
  LayerParams layer(int l) const;  // l is the global layer index
  const Tensor& embedding() const;
  const Tensor& final_ln_w() const;
  const Tensor& final_ln_b() const;
  const ParamLayout& layout() const { return *layout_; }
  std::shared_ptr<const ParamLayout> shared_layout() const { return layout_; }
  DType dtype() const { return flat_.dtype(); }

 private:
  std::shared_ptr<const ParamLayout> layout_;
  Tensor padded_, flat_;
  std::vector<Tensor> views_;
};

std::string layer_prefix(int l);  // "layers.<l>."

}  // namespace glm::modeldef
