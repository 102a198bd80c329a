#include "data/data_pipeline.h"

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/philox.h"
#include "data/token_shards.h"

namespace glm::data {
namespace {

std::unique_ptr<TokenDataset> open_split(const BlendSource& source, const std::string& split,
                                         const Tokenizer& tok, bool blended) {
  auto path = std::filesystem::path(source.path) / (split + ".h5");
  const std::string which = blended ? fmt::format("dataset '{}': ", source.name) : "";
  if (!std::filesystem::exists(path) &&
      !std::filesystem::exists(std::filesystem::path(source.path) / shard_index_name(split)))
    throw InputError(fmt::format("{}{}: missing (run glm-preprocess --output {})", which,
                                 path.string(), source.path));
  std::unique_ptr<TokenDataset> ds = TokenDataset::open_split(source.path, split);
  try {
    ds->expect_tokenizer(tok.sha256());
  } catch (const InputError& e) {
    if (!blended) throw;
    throw InputError(fmt::format("{}{} (every dataset of a blend must be prepared with the "
                                 "first one's tokenizer: glm-preprocess --tokenizer "
                                 "FIRST/tokenizer.model)",
                                 which, e.what()));
  }
  return ds;
}

ObjectiveTokens objective_tokens(const Tokenizer& tok) {
  const auto& s = tok.special();
  return {s.mask, s.gmask, s.sop, s.eop, s.pad};
}

}  // namespace

Tokenizer load_tokenizer(const std::string& dir) {
  if (dir.empty()) throw InputError("no data directory: give --data DIR (or train.data_dir)");
  return Tokenizer::from_file((std::filesystem::path(dir) / "tokenizer.model").string());
}

std::uint64_t dataset_seed(std::uint64_t seed, int d) {
  if (d == 0) return seed;
  const philox::Block b = philox::philox4x32_10(
      {static_cast<std::uint32_t>(d), 0, 0, 0}, philox::make_key(seed, philox::kDataOrder));
  return (std::uint64_t{b.v[0]} << 32) | b.v[1];
}

DataPipeline::DataPipeline(const std::string& dir, const std::string& split,
                           const Tokenizer& tokenizer, const CollatorConfig& objective,
                           int seq_len, std::uint64_t seed)
    : DataPipeline(std::vector<BlendSource>{{dir, dir, 1.0}}, split, tokenizer, objective, seq_len,
                   seed) {}

DataPipeline::DataPipeline(const std::vector<BlendSource>& sources, const std::string& split,
                           const Tokenizer& tokenizer, const CollatorConfig& objective,
                           int seq_len, std::uint64_t seed)
    : blend_(std::make_unique<BlendSchedule>(sources)),
      collator_(objective, objective_tokens(tokenizer), seq_len, seed),
      seq_len_(seq_len) {
  const bool blended = sources.size() > 1;
  for (std::size_t d = 0; d < sources.size(); ++d) {
    datasets_.push_back(open_split(sources[d], split, tokenizer, blended));
    const std::int64_t windows = datasets_.back()->num_windows(seq_len);
    if (windows <= 0)
      throw InputError(fmt::format("{}: {} tokens hold no complete window of {}",
                                   datasets_.back()->path(), datasets_.back()->num_tokens(),
                                   seq_len));
    samplers_.emplace_back(windows, dataset_seed(seed, static_cast<int>(d)));
  }
  cursor_ = std::make_unique<BlendCursor>(blend_.get());
}

void DataPipeline::set_blend(BlendSchedule schedule, std::int64_t base,
                             std::vector<std::int64_t> base_counts) {
  GLM_CHECK(schedule.size() == num_datasets(), "set_blend: {} sources for {} datasets",
            schedule.size(), num_datasets());
  blend_ = std::make_unique<BlendSchedule>(std::move(schedule));
  cursor_ = std::make_unique<BlendCursor>(blend_.get(), base, std::move(base_counts));
}

std::vector<std::int64_t> DataPipeline::samples_per_dataset(std::int64_t g) {
  return cursor_->counts_before(g);
}

modeldef::Batch DataPipeline::micro_batch(std::int64_t first, int B) {
  modeldef::Batch b = collator_.make_batch(B);
  std::vector<std::int32_t> window(seq_len_);
  for (int i = 0; i < B; ++i) {
    const std::int64_t g = first + i;
    const auto [d, k] = cursor_->at(g);
    datasets_[d]->window(samplers_[d].window_of(k), seq_len_, window.data());
    collator_.fill(b, i, window, g);
  }
  b.sample_offset = first;
  return b;
}

}  // namespace glm::data
