#include "train/training_data.h"

#include <fmt/format.h>

#include "core/error.h"

namespace glm::train {

data::Tokenizer run_tokenizer(const config::RunConfig& config) {
  const std::vector<data::BlendSource> sources = config.train.datasets();
  data::Tokenizer first = data::load_tokenizer(sources[0].path);
  for (std::size_t d = 1; d < sources.size(); ++d) {
    const data::Tokenizer other = data::load_tokenizer(sources[d].path);
    if (other.sha256() != first.sha256())
      throw InputError(fmt::format(
          "{}: dataset '{}' ({}) was prepared with another tokenizer (SHA-256 {}) than dataset "
          "'{}' ({}, {}): every dataset of a blend must share one; prepare it again with "
          "glm-preprocess --tokenizer {}/tokenizer.model",
          config.source, sources[d].name, sources[d].path, other.sha256(), sources[0].name,
          sources[0].path, first.sha256(), sources[0].path));
  }
  return first;
}

void check_vocabulary(const config::RunConfig& config, const data::Tokenizer& tokenizer) {
  if (config.model.vocab_size < tokenizer.vocab_size())
    throw InputError(fmt::format(
        "{}: model.vocab_size {} is smaller than the tokenizer's vocabulary {} ({})",
        config.source, config.model.vocab_size, tokenizer.vocab_size(), tokenizer.name()));
}

TrainingData open_training_data(const config::RunConfig& config, const data::Tokenizer& tokenizer) {
  const auto& mc = config.model;
  const auto seed = static_cast<std::uint64_t>(config.train.seed);
  const std::vector<data::BlendSource> sources = config.train.datasets();
  TrainingData d;
  d.train = std::make_unique<data::DataPipeline>(sources, "train", tokenizer, config.objective,
                                                 mc.seq_length, seed);
  for (const data::BlendSource& s : sources) {
    d.names.push_back(s.name);
    d.valid.push_back(std::make_unique<data::DataPipeline>(
        std::vector<data::BlendSource>{s}, "valid", tokenizer, config.objective, mc.seq_length,
        seed ^ data::kEvalSeedSalt));
  }
  return d;
}

}  // namespace glm::train
