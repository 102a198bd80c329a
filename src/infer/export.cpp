#include "infer/export.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "config/run_config.h"
#include "core/allocator.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/h5_tensors.h"
#include "core/progress.h"
#include "data/tokenizer.h"
#include "infer/model_file.h"
#include "infer/safetensors.h"
#include "kernels/convert.h"
#include "kernels/quant.h"
#include "modeldef/param_layout.h"

namespace glm::infer {
namespace {

namespace fs = std::filesystem;

// rows [r0, r1) of a 2-D f32 tensor, contiguous
Tensor rows(const Tensor& W, std::int64_t r0, std::int64_t r1) {
  return W.slice(0, r0, r1).clone();
}

// columns [c0, c1) of a 2-D f32 tensor, contiguous
Tensor cols(const Tensor& W, std::int64_t c0, std::int64_t c1) {
  const std::int64_t R = W.size(0), C = W.size(1), n = c1 - c0;
  Tensor out = Tensor::empty({R, n}, DType::f32);
  for (std::int64_t r = 0; r < R; ++r)
    std::copy_n(W.data<float>() + r * C + c0, n, out.data<float>() + r * n);
  return out;
}

// vertical concatenation of two [*, in] f32 tensors
Tensor vcat(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0) + b.size(0), a.size(1)}, DType::f32);
  std::copy_n(a.data<float>(), a.numel(), out.data<float>());
  std::copy_n(b.data<float>(), b.numel(), out.data<float>() + a.numel());
  return out;
}

Tensor to_f16(const Tensor& x) {
  Tensor c = x.is_contiguous() ? x : x.clone();
  Tensor h = Tensor::empty(c.shape(), DType::f16);
  kernels::f32_to_f16(h, c);
  return h;
}

Tensor bytes_tensor(const std::string& s) {
  Tensor t = Tensor::empty({static_cast<std::int64_t>(s.size())}, DType::u8);
  std::copy(s.begin(), s.end(), t.data<std::uint8_t>());
  return t;
}

// The model file's tensors, written as they are made (one source tensor's outputs in memory
// at once); their names, dtypes and shapes are kept for the safetensors copy.
class Entries {
 public:
  explicit Entries(H5File& h5) : h5_(h5) {}
  void add(const std::string& name, const Tensor& t) {
    h5_.write(name, t);
    written_.push_back({name, t.dtype(), t.shape()});
  }
  // A linear (f32 [out, in]) as fp16 or quantized, with its G checked against `in`.
  std::int64_t add_linear(const std::string& name, const Tensor& W, int bits, std::int64_t group) {
    if (bits == 16) {
      const Tensor h = to_f16(W);
      add(name + ".weight", h);
      return static_cast<std::int64_t>(h.nbytes());
    }
    kernels::QuantWeight q = kernels::quantize_weight(W, bits, group);
    add(name + ".qweight", q.q);
    add(name + ".scales", q.scales);
    return q.weight_bytes();
  }
  const std::vector<SafetensorsEntry>& written() const { return written_; }

 private:
  H5File& h5_;
  std::vector<SafetensorsEntry> written_;
};

void check_options(const ExportOptions& o, const modeldef::ModelConfig& c) {
  if (o.bits != 16 && o.bits != 8 && o.bits != 4)
    throw InputError(fmt::format("--bits {}: expected 16, 8 or 4", o.bits));
  if (o.out.empty()) throw InputError("--out: give the model file to write");
  if (o.tp < 1) throw InputError(fmt::format("--tp {}: must be >= 1", o.tp));
  const int h = c.hidden_size, f = c.ffn_hidden_size, a = c.num_heads;
  if (a % o.tp != 0 || f % o.tp != 0)
    throw InputError(fmt::format(
        "--tp {}: must divide the number of heads ({}) and the GeGLU size f ({})", o.tp, a, f));
  if (o.group_size < 0)
    throw InputError(fmt::format("--group-size {}: must be >= 0", o.group_size));
  if (o.bits == 16) return;
  // every linear's local `in`: h (qkv, W1), h/N (dense), f/N (W2)
  for (auto [in, what] : {std::pair<std::int64_t, const char*>{h, "hidden size h"},
                          {h / o.tp, "h / tp (attention output slice)"},
                          {f / o.tp, "f / tp (W2 slice)"}}) {
    const std::int64_t G = o.group_size == 0 ? in : o.group_size;
    if (in % G != 0 || (o.bits == 4 && G % 2 != 0))
      throw InputError(
          fmt::format("--group-size {}: must divide the {} = {}{} for {}-bit export with --tp {}",
                      o.group_size, what, in, o.bits == 4 ? " and be even" : "", o.bits, o.tp));
  }
}

std::string find_tokenizer(const ExportOptions& o, const config::RunConfig& rc,
                           const std::string& meta_path) {
  if (!o.tokenizer.empty()) {
    if (!fs::exists(o.tokenizer))
      throw InputError(fmt::format("--tokenizer {}: no such file", o.tokenizer));
    return o.tokenizer;
  }
  // The run's tokenizer: its first dataset's (a blend's datasets share it)
  const std::string dir = rc.train.datasets()[0].path;
  if (dir.empty())
    throw InputError(fmt::format(
        "{}: the run config has no train.data_dir or train.data to find tokenizer.model in; "
        "give --tokenizer",
        meta_path));
  const std::string p = (fs::path(dir) / "tokenizer.model").string();
  if (!fs::exists(p))
    throw InputError(fmt::format(
        "{}: not found (the checkpoint's first dataset is {}); give --tokenizer MODEL", p, dir));
  return p;
}

}  // namespace

WriteResult write_model_file(const ParamSource& param, const config::RunConfig& rc,
                             const data::Tokenizer& tok, const ExportOptions& o,
                             const ModelSource& src) {
  const modeldef::ModelConfig& c = rc.model;
  check_options(o, c);
  WriteResult out;
  const int N = o.tp, bits = o.bits;
  const std::int64_t h = c.hidden_size, f = c.ffn_hidden_size, G = o.group_size;
  const modeldef::ParamLayout layout(c, modeldef::ModelShard{});
  // the parameter's fp32 values, checked: a source returning anything else is a bug
  auto values = [&](const std::string& name) {
    const modeldef::ParamSpec& spec = layout.spec(name);
    Tensor t = param(spec);
    GLM_CHECK(t.dtype() == DType::f32 && t.device().is_cpu() && t.shape() == spec.shape,
              "write_model_file: '{}' came as {}, expected host f32{}", name, t.describe(),
              shape_str(spec.shape));
    return t;
  };
  const std::map<std::string, std::string> attrs = {
      {"format", kModelFormat},
      {"version", std::to_string(kModelFormatVersion)},
      {"bits", std::to_string(bits)},
      {"group_size", std::to_string(bits == 16 ? 0 : G)},
      {"tp", std::to_string(N)},
      {"model_config", c.to_json().dump()},
      {"run_config", rc.to_json().dump()},
      {"checkpoint", src.checkpoint},
      {"step", std::to_string(src.step)},
      {"tokenizer_sha256", tok.sha256()},
  };
  std::vector<SafetensorsEntry> written;
  {
    glm::AtomicFile file(o.out);
    {
      H5File h5(file.temp_path(), H5File::Mode::create);
      for (const auto& [k, v] : attrs) h5.set_attr(k, v);
      Entries e(h5);
      auto add_f16 = [&](const std::string& name) { e.add(name, to_f16(values(name))); };
      e.add("tokenizer", bytes_tensor(tok.model_bytes()));
      add_f16("embedding.weight");
      add_f16("final_layernorm.weight");
      add_f16("final_layernorm.bias");
      trim_host_heap();  // what one tensor at a time leaves free goes back to the system
      Progress progress("glm-export: layers quantized", c.num_layers);
      for (int l = 0; l < c.num_layers; ++l) {
        const std::string pre = modeldef::layer_prefix(l);
        for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
          add_f16(pre + norm + ".weight");
          add_f16(pre + norm + ".bias");
        }
        if (c.has_sublayer_output_norms())
          for (const char* norm : {"attention.output_layernorm", "mlp.output_layernorm"}) {
            add_f16(pre + norm + ".weight");
            add_f16(pre + norm + ".bias");
          }
        add_f16(pre + kDense + ".bias");
        add_f16(pre + kW2 + ".bias");
        // Each tensor read once, then cut into its N slices.
        // QKV: rows [heads, 3, d] -> rank r's heads are one row block
        {
          const Tensor w = values(pre + kQkv + ".weight"), b = values(pre + kQkv + ".bias");
          for (int r = 0; r < N; ++r) {
            const std::int64_t q0 = r * 3 * h / N, q1 = (r + 1) * 3 * h / N;
            out.linear_bytes += e.add_linear(tp_group(r) + pre + kQkv, rows(w, q0, q1), bits, G);
            e.add(tp_group(r) + pre + kQkv + ".bias", to_f16(b.slice(0, q0, q1)));
          }
        }
        // dense: row-parallel, split along `in` (rank r's heads' context columns)
        {
          const Tensor w = values(pre + kDense + ".weight");
          for (int r = 0; r < N; ++r)
            out.linear_bytes += e.add_linear(tp_group(r) + pre + kDense,
                                             cols(w, r * h / N, (r + 1) * h / N), bits, G);
        }
        // W1: the same rows of x1 and of x2, stacked [x1 slice | x2 slice]
        {
          const Tensor w = values(pre + kW1 + ".weight"), b = values(pre + kW1 + ".bias");
          for (int r = 0; r < N; ++r) {
            const std::int64_t f0 = r * f / N, f1 = (r + 1) * f / N;
            out.linear_bytes += e.add_linear(tp_group(r) + pre + kW1,
                                             vcat(rows(w, f0, f1), rows(w, f + f0, f + f1)), bits, G);
            e.add(tp_group(r) + pre + kW1 + ".bias",
                  to_f16(vcat(b.slice(0, f0, f1).clone().view({f1 - f0, 1}),
                              b.slice(0, f + f0, f + f1).clone().view({f1 - f0, 1}))
                             .view({2 * (f1 - f0)})));
          }
        }
        // W2: row-parallel, split along `in`
        {
          const Tensor w = values(pre + kW2 + ".weight");
          for (int r = 0; r < N; ++r) {
            const std::int64_t f0 = r * f / N, f1 = (r + 1) * f / N;
            out.linear_bytes += e.add_linear(tp_group(r) + pre + kW2, cols(w, f0, f1), bits, G);
          }
        }
        trim_host_heap();
        progress.advance();
      }
      progress.finish();
      written = e.written();
    }
    file.commit();  // fsync, rename, fsync the directory
  }
  out.file_bytes = static_cast<std::int64_t>(fs::file_size(o.out));
  if (!o.safetensors.empty()) {
    std::map<std::string, std::string> meta_st = attrs;
    meta_st["int4_packing"] = "two's-complement nibbles, two per byte, low nibble first";
    meta_st["layout"] = "see src/infer/model_file.h: tp_<r>/ slices, '<name>.qweight' + '.scales'";
    // the same tensors, read back one at a time from the model file just written
    const H5File model(o.out, H5File::Mode::read);
    write_safetensors(o.safetensors, written,
                      [&](std::size_t i) { return model.read(written[i].name); }, meta_st);
  }
  return out;
}

WriteResult write_model_file(const modeldef::FlatParams& p, const config::RunConfig& run,
                             const data::Tokenizer& tokenizer, const ExportOptions& options,
                             const ModelSource& source) {
  GLM_CHECK(p.dtype() == DType::f32 && p.layout().shard().tp_size == 1 &&
                p.layout().shard().has_embedding && p.layout().shard().has_head &&
                p.layout().shard().first_layer == 0 && p.layout().shard().last_layer < 0,
            "write_model_file: the parameters must be one process's fp32 model");
  return write_model_file([&](const modeldef::ParamSpec& spec) { return p.get(spec.name); }, run,
                          tokenizer, options, source);
}

ExportResult export_model(const ExportOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  ExportResult res;
  if (o.load.empty()) throw InputError("--load: give a checkpoint directory");
  res.checkpoint = checkpoint::resolve_checkpoint_dir(o.load, o.iter);
  const std::string meta_path = (fs::path(res.checkpoint) / checkpoint::kMetaFile).string();
  checkpoint::CheckpointMeta meta = checkpoint::read_checkpoint_meta(res.checkpoint);
  // the same checks as `glm-ckpt verify`: a checkpoint that fails them is refused
  checkpoint::verify_checkpoint_files(res.checkpoint, meta);
  checkpoint::verify_checkpoint_pieces(res.checkpoint, meta);
  config::RunConfig rc = config::parse_run_config(meta.config.dump(), meta_path + " (config)");
  const modeldef::ModelConfig& c = rc.model;
  check_options(o, c);
  data::Tokenizer tok = data::Tokenizer::from_file(find_tokenizer(o, rc, meta_path));
  if (tok.vocab_size() > c.vocab_size)
    throw InputError(fmt::format("{}: {} pieces do not fit the model's vocabulary of {}",
                                 tok.name(), tok.vocab_size(), c.vocab_size));
  res.step = meta.step;

  // The fp32 master weights, one tensor at a time through a one-process layout (the Adam
  // moments are not read): one tensor and one stored piece in memory at once.
  const modeldef::ParamLayout layout(c, modeldef::ModelShard{});
  res.parameters = layout.total();
  checkpoint::CheckpointReader reader(res.checkpoint, meta, /*files_verified=*/true);
  auto master = [&](const modeldef::ParamSpec& spec) {
    return reader.read_one(layout, {spec.offset, spec.offset + spec.numel()}, 0).view(spec.shape);
  };
  const WriteResult w = write_model_file(master, rc, tok, o, ModelSource{res.checkpoint, meta.step});
  res.file_bytes = w.file_bytes;
  res.linear_bytes = w.linear_bytes;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace glm::infer
