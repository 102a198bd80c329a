// The data streams of a training run, from train.data_dir or the blend of train.data, checked
// against the run's tokenizer: the training split in the run's sample order (keyed by
// train.seed), and each dataset's held-out split in an order of its own, the same for every
// step and every layout.
//
//   data::Tokenizer tok = run_tokenizer(config);   // the first dataset's, checked against the
//   others check_vocabulary(config, tok); TrainingData d = open_training_data(config, tok);
//   modeldef::Batch b = d.train->micro_batch(first_sample, micro_batch_size);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/data_pipeline.h"
#include "data/tokenizer.h"

namespace glm::train {

struct TrainingData {
  std::unique_ptr<data::DataPipeline> train;
  std::vector<std::string> names;                         // each dataset's, in order
  std::vector<std::unique_ptr<data::DataPipeline>> valid;  // each dataset's held-out split
};

// The run's tokenizer: the first dataset's tokenizer.model. InputError naming the dataset
// whose tokenizer.model has another SHA-256 than the first's.
data::Tokenizer run_tokenizer(const config::RunConfig& config);

// InputError naming the config when model.vocab_size cannot hold the tokenizer's vocabulary.
void check_vocabulary(const config::RunConfig& config, const data::Tokenizer& tokenizer);

// InputError naming the file when a split is missing or was made with another tokenizer.
TrainingData open_training_data(const config::RunConfig& config, const data::Tokenizer& tokenizer);

}  // namespace glm::train
