#include "infer/perplexity.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <vector>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/error.h"
#include "core/progress.h"
#include "data/data_pipeline.h"
#include "data/text_bytes.h"

namespace glm::infer {

PerplexityResult evaluate_perplexity(const Engine& engine, const data::Tokenizer& tokenizer,
                                     const std::string& data_file, std::int64_t max_samples) {
  const auto t0 = std::chrono::steady_clock::now();
  namespace fs = std::filesystem;
  const fs::path path(data_file);
  if (path.extension() != ".h5")
    throw InputError(
        fmt::format("--data {}: expected a glm-preprocess split such as DIR/valid.h5", data_file));
  if (!fs::exists(path)) throw InputError(fmt::format("--data {}: no such file", data_file));
  if (max_samples < 0) throw InputError(fmt::format("--max-samples {}: must be >= 0", max_samples));
  const ModelFile& m = engine.model();
  config::RunConfig rc = config::parse_run_config(m.run_config.dump(), m.path + " (run_config)");
  if (max_samples == 0) max_samples = std::int64_t{rc.train.eval_iters} * rc.train.micro_batch_size;
  const int T = m.config.seq_length;
  data::DataPipeline data(path.parent_path().string(), path.stem().string(), tokenizer,
                           rc.objective, T,
                           static_cast<std::uint64_t>(rc.train.seed) ^ data::kEvalSeedSalt);

  PerplexityResult res;
  double sum = 0;
  KVCache cache = engine.new_cache(T);
  const std::vector<std::int32_t> bytes_per_id = tokenizer.text_bytes_per_id();
  Progress progress("glm-eval: held-out samples", max_samples);
  for (std::int64_t s = 0; s < max_samples; ++s) {
    modeldef::Batch b = data.micro_batch(s, 1);
    res.bytes += data::target_text_bytes(b, bytes_per_id);
    const int L = b.valid_len.data<std::int32_t>()[0], P = b.prefix_len.data<std::int32_t>()[0];
    const std::int32_t* tok = b.tokens.data<std::int32_t>();
    const std::int32_t* pos = b.positions.data<std::int32_t>();
    const std::int32_t* tgt = b.targets.data<std::int32_t>();
    std::vector<std::int64_t> rows;
    for (int i = 0; i < L; ++i)
      if (tgt[i] >= 0) rows.push_back(i);
    cache.reset();
    Tensor logits = engine.forward(cache, {tok, static_cast<std::size_t>(L)},
                                   {pos, static_cast<std::size_t>(L)}, P, rows);
    const std::int64_t V = logits.size(1);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      // loss = logsumexp(logits) - logits[target], in double
      const float* z = logits.data<float>() + static_cast<std::int64_t>(r) * V;
      double mx = z[0];
      for (std::int64_t v = 1; v < V; ++v) mx = std::max(mx, double(z[v]));
      double se = 0;
      for (std::int64_t v = 0; v < V; ++v) se += std::exp(double(z[v]) - mx);
      sum += mx + std::log(se) - z[tgt[rows[r]]];
    }
    res.tokens += static_cast<std::int64_t>(rows.size());
    ++res.samples;
    progress.advance();
  }
  progress.finish();
  res.loss = res.tokens > 0 ? sum / static_cast<double>(res.tokens) : std::nan("");
  res.perplexity = std::exp(res.loss);
  res.bits_per_byte = data::bits_per_byte(sum, static_cast<double>(res.bytes));
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace glm::infer
