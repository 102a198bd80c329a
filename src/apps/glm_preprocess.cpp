// glm-preprocess: text files -> tokenizer + train/valid token datasets (docs/design.md 1 and 6).
//
//   glm-preprocess --input FILE... --output DIR [--vocab-size N] [--tokenizer MODEL]
//                  [--valid-fraction F] [--workers N] [--force]
//   -> DIR/tokenizer.model, DIR/train.h5, DIR/valid.h5
//
// Exit status: 0 success, 2 bad usage or input (the message names the file or option),
// 1 internal failure.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "apps/app_main.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "core/error.h"
#include "data/preprocess.h"

namespace po = boost::program_options;

namespace {

int run(int argc, char** argv) {
  glm::data::PreprocessOptions o;
  po::options_description desc(
      "glm-preprocess: train (or reuse) a SentencePiece tokenizer and write the train/valid\n"
      "token datasets of a text corpus.\n\n"
      "Usage: glm-preprocess --input FILE... --output DIR [options]\n\n"
      "Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("input,i", po::value<std::vector<std::string>>(&o.inputs)->multitoken()->composing(),
     "input text files or directories (every regular file in a directory, sorted); "
     "repeatable. Fortune files ('%' lines) give one document per fortune, JSON Lines files "
     "(*.jsonl, *.ndjson, also .gz or .zst) one per line, other files one per paragraph")
    ("jsonl-key", po::value<std::string>(&o.jsonl_key)->default_value(o.jsonl_key),
     "the key of each JSON Lines object that holds its text")
    ("output,o", po::value<std::string>(&o.output_dir),
     "output directory: tokenizer.model, train.h5, valid.h5")
    ("vocab-size", po::value<int>(&o.vocab_size)->default_value(o.vocab_size),
     "vocabulary size of the trained tokenizer")
    ("tokenizer", po::value<std::string>(&o.tokenizer_model),
     "reuse this SentencePiece model (copied to DIR/tokenizer.model) instead of training one")
    ("valid-fraction", po::value<double>(&o.valid_fraction)->default_value(o.valid_fraction),
     "fraction of documents held out (chosen by a fixed hash of each document's text)")
    ("workers", po::value<int>(&o.workers)->default_value(0),
     "encoding threads (0: every core)")
    ("compression", po::value<int>(&o.compression_level)->default_value(o.compression_level),
     "deflate level of the token datasets (0-9)")
    ("shard-tokens", po::value<std::int64_t>(&o.shard_tokens)->default_value(0),
     "stream the inputs with bounded memory and write each split as shards of about N "
     "tokens (train-00000.h5, ... and train.index.json); a rerun with the same options "
     "continues after the complete shards (0: one train.h5 and one valid.h5)")
    ("tokenizer-sample-mb", po::value<std::int64_t>()->default_value(256),
     "with --shard-tokens and no --tokenizer: train the tokenizer on the first N MB of "
     "training documents")
    ("force", po::bool_switch(&o.force), "overwrite existing outputs in DIR");
  // clang-format on
  po::variables_map vm;
  if (auto stop = glm::apps::parse_options(po::command_line_parser(argc, argv).options(desc), argc,
                                           desc, vm, {.bare_is_usage = false}))
    return *stop;
  if (!vm.count("input")) throw glm::InputError("--input is required (see --help)");
  if (!vm.count("output")) throw glm::InputError("--output is required (see --help)");
  glm::apps::require_range(vm, "compression", 0, 9);
  glm::apps::require_range(vm, "workers", 0, 4096);
  glm::apps::require_range<std::int64_t>(vm, "shard-tokens", 0, std::int64_t{1} << 40);
  glm::apps::require_range<std::int64_t>(vm, "tokenizer-sample-mb", 1, std::int64_t{1} << 20);
  o.tokenizer_sample_bytes = vm["tokenizer-sample-mb"].as<std::int64_t>() << 20;
  if (vm.count("tokenizer") && !vm["vocab-size"].defaulted())
    spdlog::warn("--vocab-size is ignored with --tokenizer (the model fixes the vocabulary)");

  const glm::data::PreprocessSummary s = glm::data::preprocess(o);

  auto line = [&](const char* name, const glm::data::SplitSummary& sp) {
    spdlog::info("  {:5}  {:>8} documents  {:>10} tokens  {:.1f} tokens/document", name,
                 sp.documents, sp.tokens, sp.documents ? double(sp.tokens) / sp.documents : 0.0);
  };
  const std::int64_t tokens = s.train.tokens + s.valid.tokens;
  spdlog::info("done: {} files -> {}", s.files.size(), o.output_dir);
  line("train", s.train);
  line("valid", s.valid);
  if (o.shard_tokens > 0)
    spdlog::info("  shards: {} train, {} valid (this run encoded the documents above; {} "
                 "documents, {} tokens were in complete shards of an earlier run)",
                 s.train_shards, s.valid_shards, s.resumed.documents, s.resumed.tokens);
  spdlog::info("  tokenizer: {} ({} pieces, sha256 {})", s.tokenizer_trained ? "trained" : "reused",
               s.vocab_size, s.tokenizer_sha256);
  spdlog::info(
      "  time: {:.2f} s total (read {:.2f}, tokenizer {:.2f}, encode {:.2f}, write {:.2f}); "
      "encoding {:.0f} tokens/s, {:.0f} documents/s",
      s.total_s, s.read_s, s.tokenizer_s, s.encode_s, s.write_s,
      s.encode_s > 0 ? tokens / s.encode_s : 0.0,
      s.encode_s > 0 ? (s.train.documents + s.valid.documents) / s.encode_s : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("[glm-preprocess] %^%l%$: %v");
  return glm::apps::guarded_main([&] { return run(argc, argv); });
}
