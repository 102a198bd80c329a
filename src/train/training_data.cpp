#include "train/training_data.h"

#include <fmt/format.h>

#include "core/error.h"

namespace glm::train {

void check_vocabulary(const config::RunConfig& config, const data::Tokenizer& tokenizer) {
  if (config.model.vocab_size < tokenizer.vocab_size())
    throw InputError(fmt::format(
        "{}: model.vocab_size {} is smaller than the tokenizer's vocabulary {} ({})",
        config.source, config.model.vocab_size, tokenizer.vocab_size(), tokenizer.name()));
}

TrainingData open_training_data(const config::RunConfig& config, const data::Tokenizer& tokenizer) {
  const auto& mc = config.model;
  const auto seed = static_cast<std::uint64_t>(config.train.seed);
  TrainingData d;
  d.train = std::make_unique<data::DataPipeline>(config.train.data_dir, "train", tokenizer,
                                                 config.objective, mc.seq_length, seed);
  d.valid = std::make_unique<data::DataPipeline>(config.train.data_dir, "valid", tokenizer,
                                                 config.objective, mc.seq_length,
                                                 seed ^ data::kEvalSeedSalt);
  return d;
}

}  // namespace glm::train
