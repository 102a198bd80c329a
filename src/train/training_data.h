// The two data streams of a training run, both from train.data_dir and checked against the
// run's tokenizer: the training split in the run's sample order (keyed by train.seed) and
// the held-out split in an order of its own, the same for every step and every layout.
//
//   check_vocabulary(config, tokenizer);
//   TrainingData d = open_training_data(config, tokenizer);
//   model::Batch b = d.train->micro_batch(first_sample, micro_batch_size);
#pragma once

#include <memory>

#include "config/run_config.h"
#include "data/data_pipeline.h"
#include "data/tokenizer.h"

namespace glm::train {

struct TrainingData {
  std::unique_ptr<data::DataPipeline> train, valid;
};

// InputError naming the config when model.vocab_size cannot hold the tokenizer's vocabulary.
void check_vocabulary(const config::RunConfig& config, const data::Tokenizer& tokenizer);

// InputError naming the file when a split is missing or was made with another tokenizer.
TrainingData open_training_data(const config::RunConfig& config, const data::Tokenizer& tokenizer);

}  // namespace glm::train
