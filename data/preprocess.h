// The corpus preparation behind glm-preprocess (docs/design.md sections 1 and 6): read the input
// files, split documents into train and valid, train (or reuse) the tokenizer on the
// train split, encode every document on worker threads, write the two token datasets; or,
// with shard_tokens, the same as a stream written in shards (data/preprocess_sharded.cpp).
//
//   PreprocessSummary s = preprocess({.inputs = {"/usr/share/games/fortunes"},
//                                     .output_dir = "data_out/corpus"});
//   -> data_out/corpus/{tokenizer.model, train.h5, valid.h5}
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glm::data {

struct PreprocessOptions {
  std::vector<std::string> inputs;  // files or directories (data/corpus.h expand_inputs)
  std::string output_dir;
  int vocab_size = 8000;        // for a trained tokenizer
  std::string tokenizer_model;  // reuse this model instead of training one
  double valid_fraction = 0.02;
  int workers = 0;            // encoding threads; 0: every core
  bool force = false;         // overwrite existing outputs
  int compression_level = 1;  // deflate level of the token datasets
  std::string jsonl_key = "text";  // the text's key in JSON Lines inputs (data/jsonl.h)
  // > 0: stream the inputs with bounded memory and write each split as shards of about this
  // many tokens (data/token_shards.h); an interrupted run continues from its complete shards.
  std::int64_t shard_tokens = 0;
  // Sharded runs without --tokenizer train it on the first this-many bytes of train documents.
  std::int64_t tokenizer_sample_bytes = std::int64_t{256} << 20;
};

struct SplitSummary {
  std::int64_t documents = 0, tokens = 0;  // tokens include one <eop> per document
};

struct PreprocessSummary {
  std::vector<std::string> files;
  SplitSummary train, valid;
  int train_shards = 0, valid_shards = 0;  // sharded runs: shards written in all
  SplitSummary resumed;  // sharded runs: documents and tokens found in complete shards
  int vocab_size = 0;
  std::string tokenizer_sha256;
  bool tokenizer_trained = false;
  double read_s = 0, tokenizer_s = 0, encode_s = 0, write_s = 0, total_s = 0;
};

// Runs the whole preparation. InputError for bad options or inputs (naming them) and for
// existing outputs without `force`; other errors are internal.
PreprocessSummary preprocess(const PreprocessOptions& options);
// The sharded, streaming form (options.shard_tokens > 0), which preprocess() calls.
PreprocessSummary preprocess_sharded(const PreprocessOptions& options);

// Shared by both forms: option checks, the worker count, and encoding documents in parallel
// (out[i] = tokens of docs[i]; progress on the console when `progress`).
void check_preprocess_options(const PreprocessOptions& options);
int preprocess_workers(const PreprocessOptions& options);
double seconds_since(std::chrono::steady_clock::time_point t0);
struct Document;
void encode_documents(const class Tokenizer& tok, const std::vector<Document>& docs,
                      std::vector<std::vector<std::int32_t>>& out, int workers, bool progress);

// The split rule: a document is held out iff u(text) < valid_fraction, where u maps a
// seeded 64-bit hash of the document's bytes to [0, 1). Content-based, so the split does
// not depend on file order, and duplicated documents land in the same split: the valid
// split never leaks into train.
bool is_valid_document(std::string_view text, double valid_fraction);

}  // namespace glm::data
