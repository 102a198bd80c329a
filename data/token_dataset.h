// The HDF5 token dataset (docs/design.md section 6): one tokenized split of a corpus.
//
// File layout (format "glm-train-tokens", version 1):
//   /tokens       uint32 [num_tokens], chunked (64k), byte-shuffled and deflated (level 1 by
//                 default: on the bundled corpus 1.26 bytes/token against 4.24 raw, 1.21 at
//                 level 4 and 1.19 at 6 for 1.3x and 3x the write time):
//                 doc_1 <eop> doc_2 <eop> ... doc_n <eop>
//   /doc_offsets  uint64 [num_documents + 1]: document i is tokens[off[i], off[i+1]),
//                 its <eop> included; off[0] = 0, off[n] = num_tokens
//   root attributes: format, format_version, tokenizer_sha256, vocab_size, eop_id,
//                 source_files (a JSON array of the input paths), num_tokens, num_documents
// Samples are windows of seq_len tokens over the stream, stride seq_len, the last partial
// window dropped.
//
//   TokenDatasetWriter w("out/train.h5", {tok.sha256(), tok.vocab_size(), tok.special().eop,
//                                         files});
//   w.add_document(tok.encode(text));  // appends the tokens and <eop>
//   w.finalize();                      // temp file, fsync, rename: all or nothing
//
//   TokenDataset ds("out/train.h5");   // validated on open, InputError naming file+field
//   ds.expect_tokenizer(tok.sha256());
//   ds.window(i, seq_len, buf);        // buf: int32 [seq_len]
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace glm::data {

inline constexpr const char* kTokenFormat = "glm-train-tokens";
inline constexpr std::int64_t kTokenFormatVersion = 1;

struct TokenDatasetMeta {
  std::string tokenizer_sha256;
  int vocab_size = 0;
  int eop_id = -1;
  std::vector<std::string> source_files;
};

// Collects documents in memory (datasets here are small: the bundled corpus is a few
// million tokens) and writes the file in finalize().
class TokenDatasetWriter {
 public:
  TokenDatasetWriter(std::string path, TokenDatasetMeta meta, int compression_level = 1);

  // Appends one document's tokens followed by <eop>; ids must lie in [0, vocab_size).
  void add_document(std::span<const std::int32_t> tokens);
  std::int64_t num_documents() const { return static_cast<std::int64_t>(offsets_.size()) - 1; }
  std::int64_t num_tokens() const { return static_cast<std::int64_t>(tokens_.size()); }

  // Writes path.tmp.<pid>, fsyncs and renames it to path. Call once.
  void finalize();

 private:
  std::string path_;
  TokenDatasetMeta meta_;
  int level_;
  std::vector<std::uint32_t> tokens_;
  std::vector<std::uint64_t> offsets_{0};
  bool finalized_ = false;
};

// A token dataset file's attributes (token_dataset.cpp reads and checks them).
struct TokenDatasetHeader {
  std::string tokenizer_sha256;
  int vocab_size = 0, eop_id = -1;
  std::vector<std::string> source_files;
  std::int64_t num_tokens = 0, num_documents = 0;
};

class TokenDataset {
 public:
  // Opens, validates and loads the whole file (every token id is checked against
  // vocab_size: a linear pass that costs less than the decompression before it).
  explicit TokenDataset(const std::string& path);
  // DIR/<split>.h5 (loaded as above), or the shards DIR/<split>.index.json lists
  // (data/token_shards.h): their attributes checked against each other and the index, the
  // tokens read window by window from the shards (only what a read spans is held; ids are
  // checked as they are read), one stream of the same windows as one file of the same
  // documents. InputError naming the file when neither exists or one is bad.
  static std::unique_ptr<TokenDataset> open_split(const std::string& dir, const std::string& split);
  ~TokenDataset();

  const std::string& path() const { return path_; }
  std::int64_t num_tokens() const { return num_tokens_; }
  std::int64_t num_documents() const { return num_documents_; }
  int vocab_size() const { return vocab_size_; }
  int eop_id() const { return eop_id_; }
  const std::string& tokenizer_sha256() const { return tokenizer_sha256_; }
  const std::vector<std::string>& source_files() const { return source_files_; }
  // The whole stream and document boundaries of a split loaded from one file (a sharded
  // split is read through read() and window() only: empty here).
  std::span<const std::uint32_t> tokens() const { return tokens_; }
  std::span<const std::uint64_t> doc_offsets() const { return offsets_; }

  // InputError naming the file and both checksums when the dataset was made with another
  // tokenizer.
  void expect_tokenizer(const std::string& sha256) const;

  // tokens[start, start+count) into out; the range must lie inside the stream.
  void read(std::int64_t start, std::int64_t count, std::int32_t* out) const;
  std::int64_t num_windows(int seq_len) const;                        // floor(num_tokens / seq_len)
  void window(std::int64_t i, int seq_len, std::int32_t* out) const;  // tokens[i*T, (i+1)*T)

 private:
  struct Shards;
  TokenDataset() = default;
  void apply(const TokenDatasetHeader& h);
  std::string path_;
  std::shared_ptr<const Shards> shards_;  // a sharded split, or null: tokens_ holds it
  std::int64_t num_tokens_ = 0, num_documents_ = 0;
  std::vector<std::uint32_t> tokens_;
  std::vector<std::uint64_t> offsets_;
  std::string tokenizer_sha256_;
  std::vector<std::string> source_files_;
  int vocab_size_ = 0, eop_id_ = -1;
};

}  // namespace glm::data
