#include "data/data_pipeline.h"

#include <filesystem>
#include <vector>

#include "core/error.h"

namespace glm::data {
namespace {

std::unique_ptr<TokenDataset> open_split(const std::string& dir, const std::string& split,
                                               const Tokenizer& tok) {
  auto path = std::filesystem::path(dir) / (split + ".h5");
  if (!std::filesystem::exists(path))
    throw InputError(fmt::format("{}: missing (run glm-preprocess --output {})", path.string(), dir));
  auto ds = std::make_unique<TokenDataset>(path.string());
  ds->expect_tokenizer(tok.sha256());
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

DataPipeline::DataPipeline(const std::string& dir, const std::string& split,
                           const Tokenizer& tokenizer, const CollatorConfig& objective,
                           int seq_len, std::uint64_t seed)
    : dataset_(open_split(dir, split, tokenizer)),
      sampler_(dataset_->num_windows(seq_len), seed),
      collator_(objective, objective_tokens(tokenizer), seq_len, seed),
      seq_len_(seq_len) {}

model::Batch DataPipeline::micro_batch(std::int64_t first, int B) {
  model::Batch b = collator_.make_batch(B);
  std::vector<std::int32_t> window(seq_len_);
  for (int i = 0; i < B; ++i) {
    const std::int64_t g = first + i;
    dataset_->window(sampler_.window_of(g), seq_len_, window.data());
    collator_.fill(b, i, window, g);
  }
  b.sample_offset = first;
  return b;
}

}  // namespace glm::data
