// glm-generate: text from an exported model file (infer/generate.h), streamed to stdout.
//
//   glm-generate --model FILE (--prompt TEXT | stdin) [--max-new-tokens N] [--temperature T]
//                [--top-k K] [--top-p P] [--seed S] [--device cpu|cuda] [--min-new-tokens N]
//                [--repetition-penalty R] [--no-repeat-ngram-size N]
//
// --device cuda runs the engine on the first GPU (infer/engine.h); a build without CUDA
// or a machine without a GPU is refused with the reason (infer/device.h).
//
// A prompt without [MASK] is continued ([gMASK] generation); a prompt with [MASK] has each
// blank filled in order and is printed with the blanks filled. Timing goes to stderr.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/app_main.h"
#include "apps/mpi_session.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "data/tokenizer.h"
#include "infer/device.h"
#include "infer/generate.h"
#include "plan/inference_plan.h"

namespace po = boost::program_options;

namespace {

// SentencePiece drops the word-boundary space of the first piece when decoding a list on
// its own; text continuing earlier output keeps it.
std::string decode_continuation(const glm::data::Tokenizer& tok,
                                const std::vector<std::int32_t>& ids) {
  std::string text = tok.decode(ids);
  if (!ids.empty() && tok.id_to_piece(ids[0]).rfind("\xE2\x96\x81", 0) == 0 &&
      (text.empty() || text[0] != ' '))
    text.insert(0, " ");
  return text;
}

// Prints the text of a growing token list as it grows: the decoded text of all tokens so
// far minus what was printed (SentencePiece decodes whitespace and multi-byte characters
// only in context). Text that ends in an incomplete UTF-8 character waits for more tokens.
class Streamer {
 public:
  // continuation: the text follows earlier output (keep a leading word-boundary space)
  Streamer(const glm::data::Tokenizer& tok, bool continuation)
      : tok_(tok), continuation_(continuation) {}
  void push(std::int32_t id) {
    ids_.push_back(id);
    const std::string text = continuation_ ? decode_continuation(tok_, ids_) : tok_.decode(ids_);
    if (text.size() <= printed_ || text.compare(0, printed_, text_, 0, printed_) != 0) return;
    if (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0) return;
    std::cout << text.substr(printed_) << std::flush;
    printed_ = text.size();
    text_ = text;
  }
  void finish() {  // whatever is left (a final incomplete character)
    const std::string text = continuation_ ? decode_continuation(tok_, ids_) : tok_.decode(ids_);
    if (text.size() > printed_ && text.compare(0, printed_, text_, 0, printed_) == 0)
      std::cout << text.substr(printed_);
    std::cout << std::flush;
  }

 private:
  const glm::data::Tokenizer& tok_;
  bool continuation_;
  std::vector<std::int32_t> ids_;
  std::string text_;
  std::size_t printed_ = 0;
};

int run(int argc, char** argv, const glm::apps::MpiSession& mpi) {
  std::string model_path, prompt, device = "cpu", activations = "fp32", kv_cache = "fp32";
  glm::infer::GenerateOptions o;
  auto seed = static_cast<std::int64_t>(glm::infer::SamplingOptions{}.seed);
  po::options_description desc(
      "glm-generate: generate text with an exported model (glm-export).\n"
      "Without [MASK] in the prompt the text is continued ([gMASK]); each [MASK] in the\n"
      "prompt is filled in, in order. Output streams to stdout as it is generated.\n\n"
      "Usage: glm-generate --model FILE (--prompt TEXT | stdin) [options]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("model", po::value(&model_path)->required(), "the model file written by glm-export")
    ("prompt", po::value(&prompt), "the prompt (default: read stdin)")
    ("max-new-tokens", po::value(&o.max_new_tokens)->default_value(64), "tokens to generate at most")
    ("min-new-tokens", po::value(&o.min_new_tokens)->default_value(0), "<eop> cannot stop generation before this many tokens")
    ("temperature", po::value(&o.sampling.temperature)->default_value(0.f), "0 = greedy")
    ("top-k", po::value(&o.sampling.top_k)->default_value(0), "sample among the K most likely tokens (0 = all)")
    ("top-p", po::value(&o.sampling.top_p)->default_value(1.f), "nucleus sampling mass (1 = off)")
    ("repetition-penalty", po::value(&o.repetition.penalty)->default_value(1.f),
     "divide (multiply, if negative) the logit of every token already in the text by this (1 = off)")
    ("no-repeat-ngram-size", po::value(&o.repetition.no_repeat_ngram)->default_value(0),
     "never repeat an n-gram of this many tokens (0 = off)")
    ("seed", po::value(&seed)->default_value(seed), "sampling seed (0 .. 2^63 - 1)")
    ("device", po::value(&device)->default_value("cpu"), "cpu, or cuda (the first GPU; needs a CUDA build)")
    ("activations", po::value(&activations)->default_value("fp32"),
     "fp32 (exact), or int8: INT8/INT4 linears round their input per block of 32 and use "
     "integer dot products (CPU; fastest decode)")
    ("kv-cache", po::value(&kv_cache)->default_value("fp32"),
     "fp32, or fp16: keys and values stored in half the memory (rounded once each)");
  // clang-format on
  po::variables_map vm;
  if (auto stop = glm::apps::parse_options(po::command_line_parser(argc, argv).options(desc), argc,
                                           desc, vm))
    return *stop;
  glm::apps::require_range<std::int64_t>(vm, "seed", 0, std::numeric_limits<std::int64_t>::max());
  o.sampling.seed = static_cast<std::uint64_t>(seed);
  const glm::Device dev = glm::infer::parse_device(device);
  glm::infer::validate(o.sampling);
  glm::infer::validate(o.repetition);
  if (!vm.count("prompt")) {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == '\r')) prompt.pop_back();
  }

  glm::apps::ServingRank serving =
      glm::apps::open_serving_rank(mpi, model_path, dev, kv_cache, activations);
  glm::infer::Engine& engine = *serving.engine;
  glm::data::Tokenizer tok = serving.tokenizer();
  const std::vector<std::int32_t> ids = tok.encode(prompt);
  const auto& sp = tok.special();
  const int T = engine.config().seq_length;
  if (static_cast<int>(ids.size()) + 2 > T)
    spdlog::warn("the prompt has {} tokens; the model was trained on sequences of {}", ids.size(),
                 T);

  // Infilling prints the prompt with its blanks filled: the text before each [MASK], then
  // that blank's tokens as they come. Continuation prints only the new text.
  std::vector<std::vector<std::int32_t>> segments(1);
  for (std::int32_t id : ids) {
    if (id == sp.mask)
      segments.emplace_back();
    else
      segments.back().push_back(id);
  }
  const bool infill = segments.size() > 1;
  int current = -1;
  std::unique_ptr<Streamer> stream;
  auto open_span = [&](int span) {
    while (current < span) {
      if (stream) stream->finish();
      ++current;
      if (infill)
        std::cout << (current == 0 ? tok.decode(segments[0])
                                   : decode_continuation(tok, segments[current]))
                  << std::flush;
      stream = std::make_unique<Streamer>(tok, /*continuation=*/true);
    }
  };
  glm::infer::Generation g =
      glm::infer::generate(engine, sp, tok.vocab_size(), ids, o, [&](int span, std::int32_t id) {
        open_span(span);
        stream->push(id);
      });
  open_span(infill ? static_cast<int>(segments.size()) - 2 : 0);
  stream->finish();
  if (infill) std::cout << decode_continuation(tok, segments.back());
  std::cout << std::endl;
  if (const std::string note = glm::infer::empty_generation_note(g, o); !note.empty())
    spdlog::warn("{}", note);
  const double tps = g.decode_steps > 0 ? g.decode_steps / g.decode_seconds : 0;
  spdlog::info("{} prompt tokens in {:.3f} s; {} new tokens, {:.1f} tokens/s ({}-bit weights, {})",
               g.prompt.tokens.size(), g.prefill_seconds, g.tokens.size(), tps, engine.model().bits,
               device);
  // The plan counts one shard per process (a tp N file in one process holds N).
  if (engine.model().tp == 1 || engine.tp_group())
    spdlog::info("prefill of {} tokens: {:.3f} MB of buffers at the peak (counted for it: "
                 "{:.3f} MB)",
                 g.prefill_tokens, g.prefill_peak_bytes / 1e6,
                 glm::plan::inference_activation_bytes(engine.config(), engine.model().tp,
                                                       g.prefill_tokens) /
                     1e6);
  if (engine.tp_group() && g.decode_steps > 0)
    spdlog::info("decode over {} ranks: {:.1f}% of the time in collectives ({:.1f} a token, "
                 "{:.1f} us each on average; rank 0)",
                 mpi.size, 100.0 * g.decode_comm_seconds / g.decode_seconds,
                 static_cast<double>(g.decode_collectives) / g.decode_steps,
                 1e6 * g.decode_comm_seconds / std::max<std::uint64_t>(g.decode_collectives, 1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("glm-generate"));
  spdlog::set_pattern("[glm-generate] %^%l%$: %v");
  glm::apps::MpiSession mpi(argc, argv);
  return glm::apps::guarded_main([&] { return run(argc, argv, mpi); });
}
