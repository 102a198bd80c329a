#include "data/preprocess.h"

#include <atomic>
#include <optional>
#include <chrono>
#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/atomic_file.h"
#include "data/corpus.h"
#include "data/progress.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"
#include "data/tokenizer_trainer.h"

namespace glm::data {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSplitSeed = 0x676c6d2d76616c69ULL;  // "glm-vali": fixed forever
constexpr std::size_t kDocsPerChunk = 256;                   // work unit of an encoding thread


// splitmix64's finaliser: spreads every input bit over the output.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void check_preprocess_options(const PreprocessOptions& o) {
  if (o.inputs.empty()) throw InputError("--input: at least one file or directory is required");
  if (o.output_dir.empty()) throw InputError("--output: an output directory is required");
  if (o.tokenizer_model.empty() && (o.vocab_size < 300 || o.vocab_size > (1 << 24)))
    throw InputError(
        fmt::format("--vocab-size {}: must lie in [300, 16777216] (256 byte pieces and the special "
                    "tokens come first)",
                    o.vocab_size));
  if (!(o.valid_fraction >= 0.0 && o.valid_fraction < 1.0))
    throw InputError(fmt::format("--valid-fraction {}: must lie in [0, 1)", o.valid_fraction));
  if (o.workers < 0) throw InputError(fmt::format("--workers {}: must be >= 0", o.workers));
  if (o.shard_tokens < 0)
    throw InputError(fmt::format("--shard-tokens {}: must be >= 0 (0: one file per split)",
                                 o.shard_tokens));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int preprocess_workers(const PreprocessOptions& o) {
  return o.workers > 0 ? o.workers
                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

namespace {

// Refuses to overwrite outputs unless --force; a --tokenizer that is DIR/tokenizer.model
// itself is not an overwrite.
void check_outputs(const PreprocessOptions& o) {
  if (o.force) return;
  for (const char* name : {"tokenizer.model", "train.h5", "valid.h5"}) {
    const fs::path p = fs::path(o.output_dir) / name;
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    if (name == std::string("tokenizer.model") && !o.tokenizer_model.empty() &&
        fs::equivalent(p, o.tokenizer_model, ec))
      continue;
    throw InputError(fmt::format("{}: already exists; use --force to overwrite it", p.string()));
  }
}

}  // namespace

// Encodes docs[i] into out[i] on `workers` threads, chunks of kDocsPerChunk handed out in
// order; the main thread reports progress. Output order is the document order.
void encode_documents(const Tokenizer& tok, const std::vector<Document>& docs,
                      std::vector<std::vector<std::int32_t>>& out, int workers, bool show) {
  out.assign(docs.size(), {});
  std::atomic<std::size_t> next_chunk{0};
  std::atomic<std::int64_t> docs_done{0}, tokens_done{0};
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
  auto work = [&] {
    try {
      for (;;) {
        if (failed) return;
        const std::size_t begin = next_chunk.fetch_add(1) * kDocsPerChunk;
        if (begin >= docs.size()) return;
        const std::size_t end = std::min(docs.size(), begin + kDocsPerChunk);
        std::int64_t tokens = 0;
        for (std::size_t i = begin; i < end; ++i) {
          out[i] = tok.encode(docs[i].text);
          tokens += static_cast<std::int64_t>(out[i].size()) + 1;  // + <eop>
        }
        tokens_done += tokens;
        docs_done += static_cast<std::int64_t>(end - begin);
      }
    } catch (...) {
      if (!failed.exchange(true)) failure = std::current_exception();
    }
  };
  std::optional<Progress> progress;
  if (show) progress.emplace("encode", static_cast<std::int64_t>(docs.size()));
  // This thread reports progress, or (without a report) is one of the workers.
  std::vector<std::jthread> threads;
  for (int t = show ? 0 : 1; t < workers; ++t) threads.emplace_back(work);
  if (!show) work();
  while (show && docs_done < static_cast<std::int64_t>(docs.size()) && !failed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    progress->update(docs_done, tokens_done);
  }
  threads.clear();  // joins
  if (failure) std::rethrow_exception(failure);
  if (show) progress->finish(docs_done, tokens_done);
}

bool is_valid_document(std::string_view text, double valid_fraction) {
  if (valid_fraction <= 0) return false;
  // FNV-1a over the bytes, seeded, then mixed; the top 53 bits give u in [0, 1).
  std::uint64_t h = 0xcbf29ce484222325ULL ^ kSplitSeed;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  const double u = static_cast<double>(mix64(h) >> 11) * 0x1.0p-53;
  return u < valid_fraction;
}

PreprocessSummary preprocess(const PreprocessOptions& options) {
  if (options.shard_tokens > 0) return preprocess_sharded(options);
  const auto t_start = std::chrono::steady_clock::now();
  check_preprocess_options(options);
  check_outputs(options);
  PreprocessSummary summary;
  const int workers = preprocess_workers(options);

  // 1. Read the corpus and split it by document.
  auto t0 = std::chrono::steady_clock::now();
  summary.files = expand_inputs(options.inputs);
  Corpus corpus = read_corpus(summary.files, {.jsonl_key = options.jsonl_key});
  std::vector<Document> train_docs, valid_docs;
  for (Document& d : corpus.documents)
    (is_valid_document(d.text, options.valid_fraction) ? valid_docs : train_docs)
        .push_back(std::move(d));
  corpus.documents.clear();
  summary.read_s = seconds_since(t0);
  spdlog::info("read {} files: {} documents ({} train, {} valid) in {:.2f} s", summary.files.size(),
               train_docs.size() + valid_docs.size(), train_docs.size(), valid_docs.size(),
               summary.read_s);
  if (train_docs.empty())
    throw InputError(
        fmt::format("--valid-fraction {}: leaves no training document", options.valid_fraction));
  if (valid_docs.empty() && options.valid_fraction > 0)
    spdlog::warn("the valid split is empty: the corpus is too small for --valid-fraction {}",
                 options.valid_fraction);
  std::int64_t literal_specials = 0;
  for (const auto* docs : {&train_docs, &valid_docs})
    for (const Document& d : *docs)
      for (std::string_view p : kSpecialTokenPieces)
        if (d.text.find(p) != std::string::npos) {
          ++literal_specials;
          break;
        }
  if (literal_specials > 0)
    spdlog::warn(
        "{} documents contain a special token's text ([MASK], <eop>, ...) literally; "
        "it is encoded as that special token",
        literal_specials);

  // 2. The tokenizer: reused, or trained on the train split only.
  t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (ec || !fs::is_directory(options.output_dir))
    throw InputError(fmt::format("--output {}: cannot create directory: {}", options.output_dir,
                                 ec ? ec.message() : "exists and is not a directory"));
  std::string model_bytes;
  if (!options.tokenizer_model.empty()) {
    model_bytes = read_file_bytes(options.tokenizer_model);
  } else {
    spdlog::info("training a {}-piece tokenizer on the train split", options.vocab_size);
    std::vector<std::string> texts;
    texts.reserve(train_docs.size());
    for (const Document& d : train_docs) texts.push_back(d.text);
    model_bytes = train_tokenizer(texts, {.vocab_size = options.vocab_size});
    summary.tokenizer_trained = true;
  }
  Tokenizer tok = Tokenizer::from_bytes(
      model_bytes, options.tokenizer_model.empty() ? "trained tokenizer" : options.tokenizer_model);
  write_file_atomically((fs::path(options.output_dir) / "tokenizer.model").string(), model_bytes);
  summary.vocab_size = tok.vocab_size();
  summary.tokenizer_sha256 = tok.sha256();
  summary.tokenizer_s = seconds_since(t0);
  spdlog::info("tokenizer: {} pieces, sha256 {} ({:.2f} s)", tok.vocab_size(), tok.sha256(),
               summary.tokenizer_s);

  // 3. Encode and write each split.
  const TokenDatasetMeta meta{tok.sha256(), tok.vocab_size(), tok.special().eop, summary.files};
  for (auto [docs, name, split] : {std::tuple{&train_docs, "train.h5", &summary.train},
                                   std::tuple{&valid_docs, "valid.h5", &summary.valid}}) {
    t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<std::int32_t>> encoded;
    encode_documents(tok, *docs, encoded, workers, /*progress=*/true);
    summary.encode_s += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    TokenDatasetWriter writer((fs::path(options.output_dir) / name).string(), meta,
                              options.compression_level);
    for (const auto& ids : encoded) writer.add_document(ids);
    writer.finalize();
    split->documents = writer.num_documents();
    split->tokens = writer.num_tokens();
    summary.write_s += seconds_since(t0);
  }
  summary.total_s = seconds_since(t_start);
  return summary;
}

}  // namespace glm::data
