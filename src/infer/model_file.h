// The exported model file (docs/design.md section 8): one self-contained HDF5 file written by
// glm-export and read by glm-generate / glm-eval.
//
// Root attributes (strings): format "glm-model", version "1", bits "16" | "8" | "4",
// group_size (G of the INT formats; "0" means per output row; "0" for fp16), tp (tensor-
// parallel shards N), model_config (ModelConfig JSON), run_config (the checkpoint's full run
// config JSON: seed and objective are what glm-eval needs), checkpoint (source directory),
// step, tokenizer_sha256.
// Datasets:
//   tokenizer                                u8 [bytes]: the SentencePiece model
//   embedding.weight                         f16 [V, h] (also the tied head)
//   final_layernorm.{weight,bias}            f16 [h]
//   layers.<l>.input_layernorm.{weight,bias}, layers.<l>.post_attention_layernorm.{...}
//                                            f16 [h] (replicated over TP ranks)
//   layers.<l>.attention.dense.bias, layers.<l>.mlp.dense_4h_to_h.bias
//                                            f16 [h]: row-parallel biases, added once after
//                                            the partial products are summed
//   tp_<r>/layers.<l>.<linear>...            TP rank r's slice of each linear (N = tp):
//     attention.query_key_value  column-parallel by heads: rows [r*3h/N, (r+1)*3h/N) (rows
//                                are [heads, 3, d], so rank r holds heads [r*a/N, (r+1)*a/N)
//                                whole); its bias slice likewise  -> [3h/N, h], [3h/N]
//     attention.dense            row-parallel: columns [r*h/N, (r+1)*h/N) -> [h, h/N]
//     mlp.dense_h_to_4h          column-parallel with both halves cut alike: rows
//                                [r*f/N, (r+1)*f/N) of x1 followed by the same rows of x2,
//                                so the local [2f/N, h] matrix is again [x1 | x2] and GeGLU
//                                runs locally; bias likewise -> [2f/N]
//     mlp.dense_4h_to_h          row-parallel: columns [r*f/N, (r+1)*f/N) -> [h, f/N]
//   each linear is stored as `<name>.weight` f16 [out, in] (bits 16), or as
//   `<name>.qweight` (i8 [out, in] or u8 [out, in/2], kernels/quant.h) and
//   `<name>.scales` (f16 [out, in/G]) with G applied to the local `in` of the slice.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/quant.h"
#include "model/glm_layer.h"
#include "modeldef/model_config.h"

namespace glm::infer {

inline constexpr const char* kModelFormat = "glm-model";
inline constexpr int kModelFormatVersion = 1;

// The four linears of a layer, by parameter name suffix.
inline constexpr const char* kQkv = "attention.query_key_value";
inline constexpr const char* kDense = "attention.dense";
inline constexpr const char* kW1 = "mlp.dense_h_to_4h";
inline constexpr const char* kW2 = "mlp.dense_4h_to_h";

std::string tp_group(int rank);  // "tp_<rank>/"

// The vocabulary rows [begin, end) that rank r of N holds when serving over ranks: V split
// as evenly as integers allow (sizes differ by at most one), so any V serves on any N.
struct VocabSlice {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};
VocabSlice vocab_slice(std::int64_t V, int N, int r);

struct ModelFile {
  std::string path;
  modeldef::ModelConfig config;
  nlohmann::json run_config;
  int bits = 16, tp = 1;
  std::int64_t group_size = 0;  // as exported (0 = per row)
  std::int64_t step = 0;
  std::string tokenizer_bytes;
  // f16 [V, h], or with `shard` that rank's vocabulary rows [vocab_begin, vocab_begin +
  // rows) (vocab_slice): the embedding and the tied head are vocabulary-parallel over ranks.
  Tensor embedding;
  std::int64_t vocab_begin = 0;
  Tensor final_ln_w, final_ln_b;  // f32 [h]
  // layers[l]: layer l as the layer's forward reads it (model/glm_layer.h): the linears as
  // stored with f32 biases, the LayerNorms f32. A file loaded for one rank of a tensor-
  // parallel group holds its own shard (shard `shard`; dense and W2 carry the replicated
  // row-parallel bias); loaded into one process, a file exported with --tp N holds the whole
  // layer, its N slices joined as stored (the quantized rows and scales moved, never
  // requantized), so one process runs the plain forward whatever the file's tp.
  std::vector<model::LayerWeights> layers;
  int shard = -1;  // the one TP shard loaded, or -1: all of them

  std::int64_t weight_bytes() const;  // bytes the forward pass streams per token (head included)
  // Bytes of the weights held in memory: the linears as stored, every bias and LayerNorm,
  // the embedding and the final LayerNorm.
  std::int64_t resident_bytes() const;
};

// Reads and checks a model file: format, version, every dataset's presence, dtype and
// shape. InputError naming the file and the dataset or attribute otherwise. With `shard`,
// only that tensor-parallel shard's slices are read (its linears' slices and its vocabulary
// rows of the embedding, plus the replicated tensors): what one rank of `mpirun -n tp` holds.
ModelFile load_model_file(const std::string& path, std::optional<int> shard = std::nullopt);


}  // namespace glm::infer
