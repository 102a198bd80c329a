// A randomly initialised GLM written as an exported model file (infer/model_file.h), for
// the CUDA engine tests and the GPU decode benchmark (tests/bench/cuda/bench_cuda_decode):
// no corpus, checkpoint or data directory needed, so it runs on a bare GPU machine. The
// tokenizer is trained on a small synthetic text (about a second); it only has to exist
// (the file stores it) and give the special tokens.
//
//   data::Tokenizer tok = cudatest::synthetic_tokenizer();
//   model::GLMModel m = cudatest::random_model(rc.model, /*seed=*/7, /*perturb=*/0.05f);
//   cudatest::write_model(m, rc, tok, path, /*bits=*/4, /*group=*/64, /*tp=*/1);
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/tokenizer.h"
#include "data/tokenizer_trainer.h"
#include "infer/export.h"
#include "model/glm_model.h"
#include "model/init.h"

namespace glm::cudatest {

// Lines of pseudo-words from a fixed syllable table (deterministic).
inline std::vector<std::string> synthetic_text(int lines) {
  static const char* onsets[] = {"b", "d", "f", "g", "k", "l",  "m",  "n",  "p",
                                 "r", "s", "t", "v", "z", "st", "th", "ch", "pr"};
  static const char* vowels[] = {"a", "e", "i", "o", "u", "ea", "ou", "ai"};
  std::mt19937 rng(12345);
  std::vector<std::string> out;
  for (int l = 0; l < lines; ++l) {
    std::string line;
    const int words = 4 + static_cast<int>(rng() % 8);
    for (int w = 0; w < words; ++w) {
      if (w) line += ' ';
      const int syllables = 1 + static_cast<int>(rng() % 3);
      for (int s = 0; s < syllables; ++s) {
        line += onsets[rng() % 18];
        line += vowels[rng() % 8];
      }
    }
    out.push_back(line + ".");
  }
  return out;
}

// A SentencePiece model of `vocab` pieces over synthetic_text (vocab must leave room for the
// 256 byte pieces, the special tokens and the text's characters: 400 does).
inline data::Tokenizer synthetic_tokenizer(int vocab = 400) {
  const std::vector<std::string> text = synthetic_text(2000);
  return data::Tokenizer::from_bytes(
      data::train_tokenizer(text, {.vocab_size = vocab, .num_threads = 2}), "synthetic tokenizer");
}

// A run config holding `model_json` (the "model" section) and defaults elsewhere.
inline config::RunConfig run_config(const std::string& model_json) {
  return config::parse_run_config("{\"model\": " + model_json + "}", "random model config");
}

// DeepNorm initialisation, then every parameter (LayerNorm gains and biases included) plus
// uniform noise in [-perturb, perturb], so no weight is an init constant.
inline model::GLMModel random_model(const modeldef::ModelConfig& config, std::uint64_t seed,
                                    float perturb) {
  model::GLMModel m(config, {.precision = modeldef::Precision::fp32});
  model::deepnorm_init(m.params(), seed);
  Tensor& flat = m.params().flat();
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<float> noise(-perturb, perturb);
  float* p = flat.data<float>();
  for (std::int64_t i = 0; i < flat.numel(); ++i) p[i] += noise(rng);
  return m;
}

inline void write_model(model::GLMModel& m, const config::RunConfig& rc, const data::Tokenizer& tok,
                        const std::string& path, int bits, std::int64_t group, int tp) {
  infer::ExportOptions o;
  o.bits = bits;
  o.group_size = group;
  o.tp = tp;
  o.out = path;
  infer::write_model_file(m.params(), rc, tok, o, {"random init", 0});
}

}  // namespace glm::cudatest
