// glm-eval: held-out perplexity of an exported model file (infer/perplexity.h).
//
//   glm-eval --model FILE --data FILE.h5 [--max-samples N] [--device cpu|cuda] [--json]
//
// The samples are the trainer's held-out evaluation samples (the GLM objective with the
// run's seed and ratios, loss on target tokens only), so an fp16 export reproduces the
// trainer's eval_loss and INT8/INT4 exports show what quantization costs.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/app_main.h"
#include "apps/mpi_session.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "data/tokenizer.h"
#include "infer/device.h"
#include "infer/perplexity.h"

namespace po = boost::program_options;

namespace {

int run(int argc, char** argv, const glm::apps::MpiSession& mpi) {
  std::string model_path, data_path, device = "cpu", activations = "fp32", kv_cache = "fp32";
  std::int64_t max_samples = 0;
  po::options_description desc(
      "glm-eval: held-out loss and perplexity of a model file on a glm-preprocess split,\n"
      "over the same GLM-objective samples as the trainer's evaluation.\n\n"
      "Usage: glm-eval --model FILE --data DIR/valid.h5 [--max-samples N] [--device cpu|cuda]\n"
      "                [--kv-cache fp32|fp16] [--json]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("model", po::value(&model_path)->required(), "the model file written by glm-export")
    ("data", po::value(&data_path)->required(), "a dataset split, e.g. data_out/corpus/valid.h5")
    ("max-samples", po::value(&max_samples)->default_value(0),
     "samples to evaluate (0 = the trainer's evaluation set: eval_iters x micro_batch_size)")
    ("device", po::value(&device)->default_value("cpu"), "cpu, or cuda (the first GPU; needs a CUDA build)")
    ("activations", po::value(&activations)->default_value("fp32"),
     "fp32 (exact), or int8: INT8/INT4 linears round their input per block of 32 and use "
     "integer dot products (CPU; fastest decode)")
    ("kv-cache", po::value(&kv_cache)->default_value("fp32"),
     "fp32, or fp16: keys and values stored in half the memory (rounded once each)")
    ("json", "print one JSON object instead of text");
  // clang-format on
  po::variables_map vm;
  if (auto stop = glm::apps::parse_options(po::command_line_parser(argc, argv).options(desc), argc,
                                           desc, vm))
    return *stop;
  glm::apps::require_range<std::int64_t>(vm, "max-samples", 0, std::int64_t{1} << 40);
  const glm::Device dev = glm::infer::parse_device(device);
  glm::apps::ServingRank serving =
      glm::apps::open_serving_rank(mpi, model_path, dev, kv_cache, activations);
  glm::infer::Engine& engine = *serving.engine;
  glm::data::Tokenizer tok = serving.tokenizer();
  const glm::infer::PerplexityResult r =
      glm::infer::evaluate_perplexity(engine, tok, data_path, max_samples);
  if (vm.count("json")) {
    nlohmann::json j = {{"model", model_path},
                        {"data", data_path},
                        {"bits", engine.model().bits},
                        {"device", device},
                        {"activations", activations},
                        {"kv_cache", kv_cache},
                        {"group_size", engine.model().group_size},
                        {"loss", r.loss},
                        {"perplexity", r.perplexity},
                        {"bits_per_byte", r.bits_per_byte},
                        {"bytes", r.bytes},
                        {"tokens", r.tokens},
                        {"samples", r.samples},
                        {"seconds", r.seconds}};
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << fmt::format(
        "{}: loss {:.4f} | perplexity {:.2f} | {:.4f} bits/byte | {} target tokens ({} bytes) "
        "in {} samples | {}-bit weights | {} | {:.1f} s\n",
        data_path, r.loss, r.perplexity, r.bits_per_byte, r.tokens, r.bytes, r.samples,
        engine.model().bits, device,
        r.seconds);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("glm-eval"));  // stdout: the result
  spdlog::set_pattern("[glm-eval] %^%l%$: %v");
  glm::apps::MpiSession mpi(argc, argv);
  return glm::apps::guarded_main([&] { return run(argc, argv, mpi); });
}
