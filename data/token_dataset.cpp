#include "data/token_dataset.h"

#include <filesystem>

#include "data/token_shards.h"

#include <hdf5.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/h5_raii.h"
#include "core/atomic_file.h"

namespace glm::data {
namespace {

constexpr hsize_t kChunkElements = 64 * 1024;  // 256 KiB of tokens per chunk

using h5::Handle;
using QuietH5 = h5::Quiet;

// --- writing ---------------------------------------------------------------------------

void write_string_attr(hid_t file, const std::string& path, const char* name,
                       const std::string& value) {
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, value.size() + 1);
  H5Tset_strpad(type.id, H5T_STR_NULLTERM);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle attr{H5Acreate2(file, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr.id < 0 || H5Awrite(attr.id, type.id, value.c_str()) < 0)
    throw Error(fmt::format("{}: cannot write attribute '{}'", path, name));
}

void write_int_attr(hid_t file, const std::string& path, const char* name, std::int64_t value) {
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle attr{H5Acreate2(file, name, H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr.id < 0 || H5Awrite(attr.id, H5T_NATIVE_INT64, &value) < 0)
    throw Error(fmt::format("{}: cannot write attribute '{}'", path, name));
}

// A 1-D dataset, chunked and compressed (an empty one is stored contiguous: HDF5 chunks
// must not exceed a fixed-size dimension).
void write_1d(hid_t file, const std::string& path, const char* name, hid_t file_type,
              hid_t mem_type, const void* data, hsize_t n, int level) {
  Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  Handle dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  H5Pset_obj_track_times(dcpl.id, false);  // no timestamps: equal data, equal bytes
  if (n > 0) {
    hsize_t chunk = std::min(n, kChunkElements);
    H5Pset_chunk(dcpl.id, 1, &chunk);
    H5Pset_shuffle(dcpl.id);  // byte planes: the high bytes of small ids are mostly zero
    if (level > 0) H5Pset_deflate(dcpl.id, static_cast<unsigned>(level));
  }
  Handle ds{H5Dcreate2(file, name, file_type, space.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT),
            H5Dclose};
  if (ds.id < 0) throw Error(fmt::format("{}: cannot create dataset '{}'", path, name));
  if (n > 0 && H5Dwrite(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw Error(fmt::format("{}: cannot write dataset '{}'", path, name));
}

// --- reading ---------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(const std::string& path)
      : path_(path), file_(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose) {
    if (file_.id < 0)
      throw InputError(fmt::format(
          "{}: cannot open token dataset (missing, truncated or not an HDF5 file)", path));
  }

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw InputError(fmt::format("{}: {}: {}", path_, field, what));
  }

  Handle open_attr(const char* name) const {
    if (H5Aexists(file_.id, name) <= 0) fail(name, "attribute missing");
    Handle a{H5Aopen(file_.id, name, H5P_DEFAULT), H5Aclose};
    if (a.id < 0) fail(name, "attribute unreadable");
    return Handle{std::exchange(a.id, -1), H5Aclose};
  }

  std::string string_attr(const char* name) const {
    Handle a = open_attr(name);
    Handle type{H5Aget_type(a.id), H5Tclose};
    if (H5Tget_class(type.id) != H5T_STRING) fail(name, "attribute is not a string");
    if (H5Tis_variable_str(type.id) > 0) {
      Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(mem.id, H5T_VARIABLE);
      char* s = nullptr;
      if (H5Aread(a.id, mem.id, &s) < 0 || s == nullptr) fail(name, "attribute unreadable");
      std::string out(s);
      H5free_memory(s);
      return out;
    }
    std::string buf(H5Tget_size(type.id), '\0');
    if (H5Aread(a.id, type.id, buf.data()) < 0) fail(name, "attribute unreadable");
    return buf.substr(0, buf.find('\0'));
  }

  std::int64_t int_attr(const char* name) const {
    Handle a = open_attr(name);
    Handle type{H5Aget_type(a.id), H5Tclose};
    Handle space{H5Aget_space(a.id), H5Sclose};
    if (H5Tget_class(type.id) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.id) != 1)
      fail(name, "attribute is not an integer scalar");
    std::int64_t v = 0;
    if (H5Aread(a.id, H5T_NATIVE_INT64, &v) < 0) fail(name, "attribute unreadable");
    return v;
  }

  // Elements [start, start + n) of the 1-D uint32 dataset `tokens`, through a hyperslab;
  // the dataset stays open between reads (with its chunk cache).
  void read_tokens(std::int64_t start, std::int64_t n, std::uint32_t* out) const {
    const char* name = "tokens";
    if (!tokens_) {
      tokens_ = std::make_unique<Handle>(H5Dopen2(file_.id, name, H5P_DEFAULT), H5Dclose);
      if (tokens_->id < 0) fail(name, "dataset missing or unreadable");
    }
    const Handle& ds = *tokens_;
    Handle space{H5Dget_space(ds.id), H5Sclose};
    const hsize_t s0 = static_cast<hsize_t>(start), cnt = static_cast<hsize_t>(n);
    Handle mem{H5Screate_simple(1, &cnt, nullptr), H5Sclose};
    if (H5Sselect_hyperslab(space.id, H5S_SELECT_SET, &s0, nullptr, &cnt, nullptr) < 0 ||
        H5Dread(ds.id, H5T_NATIVE_UINT32, mem.id, space.id, H5P_DEFAULT, out) < 0)
      fail(name, fmt::format("cannot read elements [{}, {}) (file truncated or corrupt)", start,
                             start + n));
  }

  // A 1-D unsigned integer dataset of exactly `expected` elements.
  template <typename T>
  std::vector<T> read_1d(const char* name, hid_t mem_type, std::int64_t expected) const {
    if (H5Lexists(file_.id, name, H5P_DEFAULT) <= 0) fail(name, "dataset missing");
    Handle ds{H5Dopen2(file_.id, name, H5P_DEFAULT), H5Dclose};
    if (ds.id < 0) fail(name, "dataset unreadable");
    Handle type{H5Dget_type(ds.id), H5Tclose};
    if (H5Tget_class(type.id) != H5T_INTEGER || H5Tget_sign(type.id) != H5T_SGN_NONE ||
        H5Tget_size(type.id) != sizeof(T))
      fail(name, fmt::format("dataset must hold uint{}", 8 * sizeof(T)));
    Handle space{H5Dget_space(ds.id), H5Sclose};
    if (H5Sget_simple_extent_ndims(space.id) != 1) fail(name, "dataset must be 1-D");
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.id, &n, nullptr);
    if (static_cast<std::int64_t>(n) != expected)
      fail(name, fmt::format("dataset has {} elements, expected {}", n, expected));
    std::vector<T> out(n);
    if (n > 0 && H5Dread(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      fail(name, "cannot read the dataset (file truncated or corrupt)");
    return out;
  }

 private:
  std::string path_;
  Handle file_;
  mutable std::unique_ptr<Handle> tokens_;  // read_tokens' open dataset (closed before file_)
};

}  // namespace

// --- TokenDatasetWriter ------------------------------------------------------------------

TokenDatasetWriter::TokenDatasetWriter(std::string path, TokenDatasetMeta meta,
                                       int compression_level)
    : path_(std::move(path)), meta_(std::move(meta)), level_(compression_level) {
  GLM_CHECK(meta_.vocab_size > 0 && meta_.eop_id >= 0 && meta_.eop_id < meta_.vocab_size,
            "{}: vocab_size {} eop_id {}", path_, meta_.vocab_size, meta_.eop_id);
  GLM_CHECK(level_ >= 0 && level_ <= 9, "deflate level {}", level_);
}

void TokenDatasetWriter::add_document(std::span<const std::int32_t> tokens) {
  GLM_CHECK(!finalized_, "{}: add_document after finalize", path_);
  for (std::int32_t t : tokens) {
    GLM_CHECK(t >= 0 && t < meta_.vocab_size, "{}: token id {} outside [0, {})", path_, t,
              meta_.vocab_size);
    tokens_.push_back(static_cast<std::uint32_t>(t));
  }
  tokens_.push_back(static_cast<std::uint32_t>(meta_.eop_id));
  offsets_.push_back(tokens_.size());
}

void TokenDatasetWriter::finalize() {
  GLM_CHECK(!finalized_, "{}: finalize called twice", path_);
  QuietH5 quiet;
  AtomicFile out(path_);
  {
    Handle fcpl{H5Pcreate(H5P_FILE_CREATE), H5Pclose};
    H5Pset_obj_track_times(fcpl.id, false);  // the root group's: reproducible files
    Handle file{H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, fcpl.id, H5P_DEFAULT),
                H5Fclose};
    if (file.id < 0) throw Error(fmt::format("{}: cannot create HDF5 file", out.temp_path()));
    write_1d(file.id, path_, "tokens", H5T_STD_U32LE, H5T_NATIVE_UINT32, tokens_.data(),
             tokens_.size(), level_);
    write_1d(file.id, path_, "doc_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, offsets_.data(),
             offsets_.size(), level_);
    write_string_attr(file.id, path_, "format", kTokenFormat);
    write_int_attr(file.id, path_, "format_version", kTokenFormatVersion);
    write_string_attr(file.id, path_, "tokenizer_sha256", meta_.tokenizer_sha256);
    write_int_attr(file.id, path_, "vocab_size", meta_.vocab_size);
    write_int_attr(file.id, path_, "eop_id", meta_.eop_id);
    write_string_attr(file.id, path_, "source_files", nlohmann::json(meta_.source_files).dump());
    write_int_attr(file.id, path_, "num_tokens", num_tokens());
    write_int_attr(file.id, path_, "num_documents", num_documents());
    if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0)
      throw Error(fmt::format("{}: cannot flush HDF5 file", out.temp_path()));
  }  // closed before the fsync and rename
  out.commit();
  finalized_ = true;
}

// --- TokenDataset --------------------------------------------------------------------------

// The attributes of a token dataset file, validated (the tokens themselves are not read).
static void read_header(const Reader& r, TokenDatasetHeader& h) {
  std::string& tokenizer_sha256_ = h.tokenizer_sha256;
  int& vocab_size_ = h.vocab_size;
  int& eop_id_ = h.eop_id;
  std::vector<std::string>& source_files_ = h.source_files;
  std::int64_t& num_tokens_ = h.num_tokens;
  std::int64_t& num_documents_ = h.num_documents;
  // Identity first: a file of another kind gets one clear message, not a list of oddities.
  if (std::string f = r.string_attr("format"); f != kTokenFormat)
    r.fail("format", fmt::format("is '{}', expected '{}'", f, kTokenFormat));
  if (std::int64_t v = r.int_attr("format_version"); v != kTokenFormatVersion)
    r.fail("format_version",
           fmt::format("{} is not supported (this build reads {})", v, kTokenFormatVersion));

  tokenizer_sha256_ = r.string_attr("tokenizer_sha256");
  if (tokenizer_sha256_.size() != 64 ||
      tokenizer_sha256_.find_first_not_of("0123456789abcdef") != std::string::npos)
    r.fail("tokenizer_sha256", fmt::format("'{}' is not a SHA-256 hex digest", tokenizer_sha256_));
  const std::int64_t vocab = r.int_attr("vocab_size");
  if (vocab <= 0 || vocab > (std::int64_t{1} << 31) - 1)
    r.fail("vocab_size", fmt::format("{} is out of range", vocab));
  vocab_size_ = static_cast<int>(vocab);
  const std::int64_t eop = r.int_attr("eop_id");
  if (eop < 0 || eop >= vocab) r.fail("eop_id", fmt::format("{} outside [0, {})", eop, vocab));
  eop_id_ = static_cast<int>(eop);
  {
    const std::string s = r.string_attr("source_files");
    nlohmann::json j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) r.fail("source_files", "not a JSON array");
    for (const auto& e : j) {
      if (!e.is_string()) r.fail("source_files", "not a JSON array of strings");
      source_files_.push_back(e.get<std::string>());
    }
  }
  num_tokens_ = r.int_attr("num_tokens");
  num_documents_ = r.int_attr("num_documents");
  if (num_tokens_ < 0) r.fail("num_tokens", fmt::format("{} is negative", num_tokens_));
  if (num_documents_ < 0) r.fail("num_documents", fmt::format("{} is negative", num_documents_));
}


// A sharded split read window by window: each shard's file stays open, its attributes
// checked against the index on opening; a read takes the hyperslabs it spans.
struct TokenDataset::Shards {
  std::vector<std::unique_ptr<Reader>> files;
  std::vector<std::int64_t> begin;  // first global token of each shard; begin.back() = total
  std::uint32_t vocab = 0;

  void read(std::int64_t start, std::int64_t count, std::int32_t* out) const {
    auto it = std::upper_bound(begin.begin(), begin.end(), start);
    std::size_t k = static_cast<std::size_t>(it - begin.begin()) - 1;
    while (count > 0) {
      const std::int64_t off = start - begin[k], n = std::min(count, begin[k + 1] - start);
      files[k]->read_tokens(off, n, reinterpret_cast<std::uint32_t*>(out));
      for (std::int64_t i = 0; i < n; ++i)
        if (static_cast<std::uint32_t>(out[i]) >= vocab)
          files[k]->fail("tokens", fmt::format("token {} at position {} is not below vocab_size {}",
                                               static_cast<std::uint32_t>(out[i]), off + i, vocab));
      out += n;
      start += n;
      count -= n;
      ++k;
    }
  }
};


void TokenDataset::apply(const TokenDatasetHeader& h) {
  tokenizer_sha256_ = h.tokenizer_sha256;
  vocab_size_ = h.vocab_size;
  eop_id_ = h.eop_id;
  source_files_ = h.source_files;
  num_tokens_ = h.num_tokens;
  num_documents_ = h.num_documents;
}

TokenDataset::TokenDataset(const std::string& path) : path_(path) {
  QuietH5 quiet;
  Reader r(path);
  TokenDatasetHeader h;
  read_header(r, h);
  apply(h);
  const std::int64_t num_tokens = num_tokens_, num_docs = num_documents_;
  const std::int64_t vocab = vocab_size_;
  offsets_ = r.read_1d<std::uint64_t>("doc_offsets", H5T_NATIVE_UINT64, num_docs + 1);
  tokens_ = r.read_1d<std::uint32_t>("tokens", H5T_NATIVE_UINT32, num_tokens);

  // Every document is non-empty (it holds at least its <eop>) and ends with <eop>.
  if (offsets_[0] != 0) r.fail("doc_offsets", fmt::format("starts at {}, not 0", offsets_[0]));
  for (std::int64_t i = 0; i < num_docs; ++i)
    if (offsets_[i + 1] <= offsets_[i])
      r.fail("doc_offsets", fmt::format("not increasing at document {} ({} then {})", i,
                                        offsets_[i], offsets_[i + 1]));
  if (offsets_.back() != static_cast<std::uint64_t>(num_tokens))
    r.fail("doc_offsets",
           fmt::format("ends at {}, not at num_tokens {}", offsets_.back(), num_tokens));
  for (std::int64_t i = 0; i < num_docs; ++i)
    if (tokens_[offsets_[i + 1] - 1] != static_cast<std::uint32_t>(eop_id_))
      r.fail("tokens", fmt::format("document {} does not end with <eop> (id {})", i, eop_id_));
  auto bad = std::find_if(tokens_.begin(), tokens_.end(),
                          [&](std::uint32_t t) { return t >= static_cast<std::uint32_t>(vocab); });
  if (bad != tokens_.end())
    r.fail("tokens", fmt::format("token {} at position {} is not below vocab_size {}", *bad,
                                 bad - tokens_.begin(), vocab));
}

TokenDataset::~TokenDataset() = default;

std::unique_ptr<TokenDataset> TokenDataset::open_split(const std::string& dir,
                                                      const std::string& split) {
  const std::string single = dir + "/" + split + ".h5", index = dir + "/" + shard_index_name(split);
  if (std::filesystem::exists(single) || !std::filesystem::exists(index))
    return std::make_unique<TokenDataset>(single);
  QuietH5 quiet;
  std::unique_ptr<TokenDataset> all(new TokenDataset());
  all->path_ = index;
  auto shards = std::make_shared<Shards>();
  shards->begin = {0};
  for (const ShardInfo& info : read_shard_index(index)) {
    auto r = std::make_unique<Reader>(dir + "/" + info.file);
    TokenDatasetHeader h;
    read_header(*r, h);
    if (h.num_tokens != info.tokens || h.num_documents != info.documents)
      r->fail("num_tokens", fmt::format("{} tokens in {} documents, the index {} says {} in {}",
                                        h.num_tokens, h.num_documents, index, info.tokens,
                                        info.documents));
    if (shards->files.empty()) {
      all->apply(h);
      all->num_tokens_ = all->num_documents_ = 0;
    } else if (h.tokenizer_sha256 != all->tokenizer_sha256_ || h.vocab_size != all->vocab_size_ ||
               h.eop_id != all->eop_id_) {
      r->fail("tokenizer_sha256", fmt::format("made with another tokenizer than the shards "
                                              "before it in {}",
                                              index));
    }
    all->num_tokens_ += h.num_tokens;
    all->num_documents_ += h.num_documents;
    shards->begin.push_back(all->num_tokens_);
    shards->files.push_back(std::move(r));
  }
  shards->vocab = static_cast<std::uint32_t>(all->vocab_size_);
  all->shards_ = std::move(shards);
  return all;
}

void TokenDataset::expect_tokenizer(const std::string& sha256) const {
  if (sha256 != tokenizer_sha256_)
    throw InputError(
        fmt::format("{}: made with tokenizer sha256 {}, but the tokenizer in use has sha256 {}; "
                    "re-run glm-preprocess with this tokenizer (--tokenizer)",
                    path_, tokenizer_sha256_, sha256));
}

void TokenDataset::read(std::int64_t start, std::int64_t count, std::int32_t* out) const {
  GLM_CHECK(start >= 0 && count >= 0 && start + count <= num_tokens(),
            "{}: read [{}, {}) outside the {} tokens", path_, start, start + count, num_tokens());
  if (shards_) {
    QuietH5 quiet;
    return shards_->read(start, count, out);
  }
  std::copy_n(tokens_.begin() + start, count, out);  // ids < vocab_size < 2^31: exact
}

std::int64_t TokenDataset::num_windows(int seq_len) const {
  GLM_CHECK(seq_len > 0, "seq_len {}", seq_len);
  return num_tokens() / seq_len;
}

void TokenDataset::window(std::int64_t i, int seq_len, std::int32_t* out) const {
  GLM_CHECK(i >= 0 && i < num_windows(seq_len), "{}: window {} of {} (seq_len {})", path_, i,
            num_windows(seq_len), seq_len);
  read(i * seq_len, seq_len, out);
}

}  // namespace glm::data
