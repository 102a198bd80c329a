// glm-preprocess --shard-tokens N (data/preprocess.h): the corpus as a stream, written in
// shards (data/token_shards.h).
//
// Memory holds a few batches of documents (kBatchBytes of text each) and the open shard of
// each split (its tokens), never the corpus: for_each_document reads a JSON Lines file a line at
// a time (a plain or fortune file whole, one file at a time). A reader thread batches the
// documents while each batch before is encoded on every worker thread; its documents go, in corpus order, to the open shard of their split
// (is_valid_document), which is written atomically once it holds shard_tokens tokens.
//
// Resuming: the run's settings are recorded in DIR/preprocess.json before the first shard.
// A later run with the same settings finds the complete shards (shard files are only ever
// whole), skips as many documents of each split as they hold, and continues with the next
// shard; every shard boundary falls where the uninterrupted run puts it, so the result is
// the same, byte for byte. Other settings are refused naming the key (--force starts over).
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/atomic_file.h"
#include "data/corpus.h"
#include "data/preprocess.h"
#include "data/token_dataset.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"
#include "data/tokenizer_trainer.h"

namespace glm::data {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBatchBytes = std::size_t{8} << 20;  // text encoded per parallel batch
constexpr const char* kManifest = "preprocess.json";
constexpr const char* kSplits[2] = {"train", "valid"};

// What decides the shards' contents: a resumed run must match it.
nlohmann::json settings(const PreprocessOptions& o, const std::vector<std::string>& files) {
  return {{"inputs", files},
          {"jsonl_key", o.jsonl_key},
          {"valid_fraction", o.valid_fraction},
          {"shard_tokens", o.shard_tokens},
          {"compression_level", o.compression_level},
          {"tokenizer", o.tokenizer_model.empty() ? nlohmann::json(o.vocab_size)
                                                  : nlohmann::json(o.tokenizer_model)},
          {"tokenizer_sample_bytes", o.tokenizer_sample_bytes}};
}

// Removes what a previous sharded or single-file run left (--force).
void remove_outputs(const std::string& dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    for (const char* split : kSplits)
      if ((name.starts_with(std::string(split) + "-") && name.ends_with(".h5")) ||
          name == shard_index_name(split) || name == std::string(split) + ".h5")
        fs::remove(e.path(), ec);
    if (name == kManifest) fs::remove(e.path(), ec);
  }
}

// One split's open shard and the shards written so far.
struct SplitShards {
  std::string split;
  std::vector<ShardInfo> done;
  std::optional<TokenDatasetWriter> open;
  std::int64_t skip = 0;  // documents of this split already in complete shards
};

// GLM_TEST_PREPROCESS_EXIT_AFTER_SHARDS=N: the process exits with 137 (as if killed) once N
// shards have been written in this run (tests/unit/test_data_preprocess_sharded.cpp).
void exit_if_testing(int written) {
  static const char* at = std::getenv("GLM_TEST_PREPROCESS_EXIT_AFTER_SHARDS");
  if (at && std::to_string(written) == at) {
    spdlog::warn("GLM_TEST_PREPROCESS_EXIT_AFTER_SHARDS={}: exiting as if killed", at);
    std::_Exit(137);
  }
}

}  // namespace

PreprocessSummary preprocess_sharded(const PreprocessOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  check_preprocess_options(o);
  const int workers = preprocess_workers(o);
  PreprocessSummary summary;
  summary.files = expand_inputs(o.inputs);
  const std::string dir = o.output_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw InputError(fmt::format("--output {}: cannot create directory: {}", dir,
                                 ec ? ec.message() : "exists and is not a directory"));
  if (o.force) remove_outputs(dir);
  for (const char* split : kSplits)
    if (fs::exists(fs::path(dir) / (std::string(split) + ".h5")))
      throw InputError(fmt::format("{}/{}.h5: a single-file dataset is there; use --force to "
                                   "replace it with shards",
                                   dir, split));

  // 1. The settings, or a resume of the run that recorded them.
  const nlohmann::json wanted = settings(o, summary.files);
  const std::string manifest = (fs::path(dir) / kManifest).string();
  const bool resuming = fs::exists(manifest);
  if (resuming) {
    nlohmann::json had;
    try {
      had = nlohmann::json::parse(read_file_bytes(manifest));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: not readable ({}); use --force to start over", manifest,
                                   e.what()));
    }
    for (const auto& [key, value] : wanted.items())
      if (had.value(key, nlohmann::json()) != value)
        throw InputError(fmt::format("{}: an earlier run had {} = {}, this one {}: continue it "
                                     "with the same options, or use --force to start over",
                                     manifest, key, had.value(key, nlohmann::json()).dump(),
                                     value.dump()));
  } else {
    write_file_atomically(manifest, wanted.dump(1) + "\n");
  }

  // 2. The tokenizer: the resumed run's, the one given, or trained on a bounded sample.
  auto t0 = std::chrono::steady_clock::now();
  const std::string tok_path = (fs::path(dir) / "tokenizer.model").string();
  std::string model_bytes;
  if (resuming && fs::exists(tok_path)) {
    model_bytes = read_file_bytes(tok_path);
  } else if (!o.tokenizer_model.empty()) {
    model_bytes = read_file_bytes(o.tokenizer_model);
  } else {
    std::vector<std::string> sample;
    std::int64_t bytes = 0;
    struct Enough {};
    try {
      for_each_document(summary.files, {.jsonl_key = o.jsonl_key}, [&](Document&& d) {
        if (is_valid_document(d.text, o.valid_fraction)) return;
        bytes += static_cast<std::int64_t>(d.text.size());
        sample.push_back(std::move(d.text));
        if (bytes >= o.tokenizer_sample_bytes) throw Enough{};
      });
    } catch (const Enough&) {
    }
    if (sample.empty()) throw InputError("the corpus has no training document to train a tokenizer on");
    spdlog::info("training a {}-piece tokenizer on the first {} train documents ({:.1f} MB)",
                 o.vocab_size, sample.size(), bytes / 1e6);
    model_bytes = train_tokenizer(sample, {.vocab_size = o.vocab_size});
    summary.tokenizer_trained = true;
  }
  const Tokenizer tok = Tokenizer::from_bytes(model_bytes, tok_path);
  if (!fs::exists(tok_path) || read_file_bytes(tok_path) != model_bytes)
    write_file_atomically(tok_path, model_bytes);
  summary.vocab_size = tok.vocab_size();
  summary.tokenizer_sha256 = tok.sha256();
  summary.tokenizer_s = seconds_since(t0);

  // 3. The complete shards of an earlier run.
  SplitShards shards[2];
  shards[0].split = "train";
  shards[1].split = "valid";
  for (SplitShards& s : shards) {
    for (int k = 0;; ++k) {
      const fs::path p = fs::path(dir) / shard_file_name(s.split, k);
      if (!fs::exists(p)) break;
      const TokenDataset d(p.string());
      d.expect_tokenizer(tok.sha256());
      s.done.push_back({p.filename().string(), d.num_tokens(), d.num_documents()});
      s.skip += d.num_documents();
      summary.resumed.documents += d.num_documents();
      summary.resumed.tokens += d.num_tokens();
    }
    if (!s.done.empty())
      spdlog::info("{}: continuing after {} complete shards ({} documents)", s.split,
                   s.done.size(), s.skip);
  }

  // 4. Stream, encode in batches, write shards.
  const TokenDatasetMeta meta{tok.sha256(), tok.vocab_size(), tok.special().eop, summary.files};
  int written = 0;
  auto close_shard = [&](SplitShards& s) {
    TokenDatasetWriter& w = *s.open;
    const std::string name = shard_file_name(s.split, static_cast<int>(s.done.size()));
    w.finalize();
    s.done.push_back({name, w.num_tokens(), w.num_documents()});
    spdlog::info("{}: {} tokens, {} documents ({:.0f} tokens/s so far)", name, w.num_tokens(),
                 w.num_documents(),
                 (summary.train.tokens + summary.valid.tokens) / std::max(seconds_since(t_start), 1e-9));
    s.open.reset();
    exit_if_testing(++written);
  };
  // A reader thread splits and batches the documents while this thread encodes and writes
  // the batch before (at most kQueuedBatches wait), so reading overlaps the encoding.
  struct Batch {
    std::vector<Document> docs[2];
  };
  std::vector<std::vector<std::int32_t>> encoded;
  auto write_batch = [&](Batch& b) {
    for (int k = 0; k < 2; ++k) {
      SplitShards& s = shards[k];
      encode_documents(tok, b.docs[k], encoded, workers, /*progress=*/false);
      SplitSummary& sum = k == 0 ? summary.train : summary.valid;
      for (const auto& ids : encoded) {
        if (!s.open)
          s.open.emplace((fs::path(dir) / shard_file_name(s.split, static_cast<int>(s.done.size())))
                             .string(),
                         meta, o.compression_level);
        s.open->add_document(ids);
        ++sum.documents;
        sum.tokens += static_cast<std::int64_t>(ids.size()) + 1;
        if (s.open->num_tokens() >= o.shard_tokens) close_shard(s);
      }
    }
  };
  constexpr std::size_t kQueuedBatches = 2;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> queue;
  bool reading_done = false, stop = false;
  std::exception_ptr read_error;
  std::int64_t seen[2] = {0, 0};
  t0 = std::chrono::steady_clock::now();
  std::jthread reader([&] {
    struct Stopped {};
    auto push = [&](Batch&& b) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return queue.size() < kQueuedBatches || stop; });
      if (stop) throw Stopped{};
      queue.push_back(std::move(b));
      cv.notify_all();
    };
    try {
      Batch batch;
      std::size_t bytes = 0;
      for_each_document(summary.files, {.jsonl_key = o.jsonl_key}, [&](Document&& d) {
        const int k = is_valid_document(d.text, o.valid_fraction) ? 1 : 0;
        if (seen[k]++ < shards[k].skip) return;  // already in a complete shard
        bytes += d.text.size();
        batch.docs[k].push_back(std::move(d));
        if (bytes >= kBatchBytes) {
          push(std::move(batch));
          batch = Batch();
          bytes = 0;
        }
      });
      push(std::move(batch));
    } catch (const Stopped&) {
    } catch (...) {
      read_error = std::current_exception();
    }
    std::lock_guard lock(mu);
    reading_done = true;
    cv.notify_all();
  });
  try {
    for (;;) {
      Batch b;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || reading_done; });
        if (queue.empty()) break;
        b = std::move(queue.front());
        queue.pop_front();
        cv.notify_all();
      }
      write_batch(b);
    }
  } catch (...) {
    {
      std::lock_guard lock(mu);
      stop = true;
      cv.notify_all();
    }
    throw;  // the reader stops at its next push and is joined
  }
  reader.join();
  if (read_error) std::rethrow_exception(read_error);
  for (SplitShards& s : shards)
    if (s.open && s.open->num_documents() > 0) close_shard(s);
  summary.encode_s = seconds_since(t0);
  if (seen[0] == 0) throw InputError("the corpus has no training document");
  for (SplitShards& s : shards) write_shard_index(dir, s.split, tok.sha256(), s.done);
  summary.train_shards = static_cast<int>(shards[0].done.size());
  summary.valid_shards = static_cast<int>(shards[1].done.size());
  summary.total_s = seconds_since(t_start);
  return summary;
}

}  // namespace glm::data
