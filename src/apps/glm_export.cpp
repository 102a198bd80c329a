// glm-export: a checkpoint -> one self-contained model file for glm-generate / glm-eval
// (infer/export.h, infer/model_file.h; docs/design.md section 8).
//
//   glm-export --load DIR [--iter N] --bits 16|8|4 [--group-size G] [--tp N] --out FILE
//              [--safetensors FILE] [--tokenizer MODEL]
//
// Exit 0 on success, 2 on bad usage or a checkpoint that fails verification (the message
// names the file or option), 1 on an internal failure.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>

#include "apps/app_main.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "infer/export.h"

namespace po = boost::program_options;

namespace {

int run(int argc, char** argv) {
  glm::infer::ExportOptions o;
  std::int64_t iter = -1;
  po::options_description desc(
      "glm-export: write a trained checkpoint as one model file with fp16, INT8 or INT4\n"
      "linear weights (symmetric absmax per output row or per group of G inputs, fp16\n"
      "scales; embedding and norms fp16) plus the config and tokenizer.\n\n"
      "Usage: glm-export --load DIR [--iter N] --bits 16|8|4 [--group-size G] [--tp N]\n"
      "                  --out FILE [--safetensors FILE] [--tokenizer MODEL]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("load", po::value(&o.load)->required(), "checkpoint: a save directory (follows latest) or iter_XXXXXXXX")
    ("iter", po::value(&iter), "the checkpoint of iteration N instead of latest")
    ("bits", po::value(&o.bits)->required(), "16 (fp16), 8 (INT8) or 4 (INT4) linear weights")
    ("group-size", po::value(&o.group_size)->default_value(0), "INT formats: inputs per scale (0 = one scale per output row)")
    ("tp", po::value(&o.tp)->default_value(1), "tensor-parallel shards to write into the file")
    ("out", po::value(&o.out)->required(), "the model file (HDF5) to write")
    ("safetensors", po::value(&o.safetensors), "also write the tensors as a safetensors file")
    ("tokenizer", po::value(&o.tokenizer), "tokenizer.model to embed (default: the run's train.data_dir/tokenizer.model)");
  // clang-format on
  po::variables_map vm;
  if (auto stop = glm::apps::parse_options(po::command_line_parser(argc, argv).options(desc), argc,
                                           desc, vm))
    return *stop;
  glm::apps::require_range<std::int64_t>(vm, "iter", 0, std::int64_t{1} << 40);
  glm::apps::require_range(vm, "tp", 1, 1 << 16);
  glm::apps::require_range<std::int64_t>(vm, "group-size", 0, std::int64_t{1} << 30);
  if (vm.count("iter")) o.iter = iter;
  const glm::infer::ExportResult r = glm::infer::export_model(o);
  spdlog::info(
      "{}: step {} of {} ({} parameters) as {}-bit{}{}: {:.1f} MB ({:.1f} MB of linear weights) in "
      "{:.2f} s",
      o.out, r.step, r.checkpoint, r.parameters, o.bits,
      o.bits == 16 ? ""
                   : fmt::format(", group {}", o.group_size == 0 ? std::string("per-row")
                                                                 : std::to_string(o.group_size)),
      o.tp > 1 ? fmt::format(", {} TP shards", o.tp) : "", r.file_bytes / 1e6, r.linear_bytes / 1e6,
      r.seconds);
  if (!o.safetensors.empty()) spdlog::info("safetensors: {}", o.safetensors);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("[glm-export] %^%l%$: %v");
  return glm::apps::guarded_main([&] { return run(argc, argv); });
}
