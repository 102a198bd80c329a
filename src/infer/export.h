// glm-export's logic: a checkpoint -> one self-contained model file (infer/model_file.h),
// optionally also a safetensors file (infer/safetensors.h).
//
//   ExportOptions o{.load = "ckpt", .bits = 4, .group_size = 128, .out = "model.h5"};
//   ExportResult r = export_model(o);
//
// The checkpoint is verified like `glm-ckpt verify` (sizes, SHA-256, pieces) and refused
// with an InputError naming the file when that fails; the fp32 master weights are read one
// tensor at a time through a one-process parameter layout (checkpoint::CheckpointReader
// re-cuts pieces by their global offsets) and each is written out before the next is read,
// so memory holds one tensor, one stored piece and their outputs, whatever the model's size.
// Linear weights are quantized per TP slice; everything else is stored fp16. The file is
// written to a temporary name, fsynced and renamed; the safetensors copy is then written
// from it, one tensor at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config/run_config.h"
#include "data/tokenizer.h"
#include "modeldef/param_layout.h"

namespace glm::infer {

struct ExportOptions {
  std::string load;                  // save root or iter_XXXXXXXX directory
  std::optional<std::int64_t> iter;  // iteration (default: latest)
  int bits = 16;                     // 16, 8 or 4
  std::int64_t group_size = 0;       // INT formats: G along `in`; 0 = per output row
  int tp = 1;                        // tensor-parallel shards to write
  std::string out;                   // the HDF5 model file
  std::string safetensors;           // optional second output
  std::string tokenizer;             // default: <run config train.data_dir>/tokenizer.model
};

struct ExportResult {
  std::string checkpoint;  // the resolved iter_XXXXXXXX directory
  std::int64_t step = 0;
  std::int64_t file_bytes = 0;
  std::int64_t linear_bytes = 0;  // packed linear weights + scales (or fp16 linears)
  std::int64_t parameters = 0;
  double seconds = 0;
};

ExportResult export_model(const ExportOptions& options);

// The writing half of export_model: `param(spec)` gives one parameter of the whole model
// (a one-process layout's spec) as host f32 of spec.shape, asked for once per parameter, in
// writing order. options' bits, group_size, tp, out and safetensors are used; `source` is
// recorded in the file's attributes.
struct ModelSource {
  std::string checkpoint;  // where the weights came from
  std::int64_t step = 0;
};
struct WriteResult {
  std::int64_t file_bytes = 0, linear_bytes = 0;
};
using ParamSource = std::function<Tensor(const modeldef::ParamSpec& spec)>;
WriteResult write_model_file(const ParamSource& param, const config::RunConfig& run,
                             const data::Tokenizer& tokenizer, const ExportOptions& options,
                             const ModelSource& source);
// The same for weights in memory (a randomly initialised model's in benchmarks): one
// process's fp32 parameters.
WriteResult write_model_file(const modeldef::FlatParams& params, const config::RunConfig& run,
                             const data::Tokenizer& tokenizer, const ExportOptions& options,
                             const ModelSource& source);

}  // namespace glm::infer
