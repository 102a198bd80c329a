#include "infer/generate.h"

#include <chrono>
#include <cmath>

#include "core/allocator.h"
#include "core/error.h"

namespace glm::infer {

PromptLayout layout_prompt(std::span<const std::int32_t> ids, const data::SpecialTokens& sp) {
  PromptLayout p;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == sp.mask) p.mask_positions.push_back(static_cast<int>(i));
  if (p.infill()) {
    // part A as training builds it: positions 0..|A|-1, all of it the prefix
    p.tokens.assign(ids.begin(), ids.end());
    for (std::size_t i = 0; i < ids.size(); ++i) p.positions.push_back(static_cast<int>(i));
    p.prefix_len = static_cast<int>(ids.size());
    return p;
  }
  // context [gMASK] <sop>: positions 0..k+1, P = k + 1
  p.tokens.assign(ids.begin(), ids.end());
  if (!p.tokens.empty() && p.tokens.back() == sp.gmask) p.tokens.pop_back();
  p.tokens.push_back(sp.gmask);
  p.prefix_len = static_cast<int>(p.tokens.size());
  p.tokens.push_back(sp.sop);
  for (std::size_t i = 0; i < p.tokens.size(); ++i) p.positions.push_back(static_cast<int>(i));
  return p;
}

Generation generate(const Engine& engine, const data::SpecialTokens& sp, int vocab_limit,
                    std::span<const std::int32_t> prompt_ids, const GenerateOptions& o,
                    const std::function<void(int, std::int32_t)>& on_token) {
  using clock = std::chrono::steady_clock;
  validate(o.sampling);
  validate(o.repetition);
  if (o.max_new_tokens < 0)
    throw InputError(fmt::format("--max-new-tokens {}: must be >= 0", o.max_new_tokens));
  if (o.min_new_tokens < 0 || o.min_new_tokens > o.max_new_tokens)
    throw InputError(fmt::format("--min-new-tokens {}: must be in [0, --max-new-tokens {}]",
                                 o.min_new_tokens, o.max_new_tokens));
  Generation g;
  g.prompt = layout_prompt(prompt_ids, sp);
  const PromptLayout& p = g.prompt;
  const int spans = p.infill() ? static_cast<int>(p.mask_positions.size()) : 1;
  g.span_finished.assign(spans, false);
  // every span adds a <sop> (the first one is in the prompt for [gMASK])
  const std::int64_t capacity =
      static_cast<std::int64_t>(p.tokens.size()) + o.max_new_tokens + spans + 1;
  const std::int64_t limit = engine.max_cache_tokens();
  if (capacity > limit)
    throw InputError(fmt::format(
        "--max-new-tokens {}: with the prompt's {} tokens the KV cache needs {} tokens; this "
        "model holds at most {} on {} (memory available, attention kernel)",
        o.max_new_tokens, p.tokens.size(), capacity, limit,
        engine.device().is_cpu() ? "cpu" : "cuda"));
  KVCache cache = engine.new_cache(capacity);

  // prefill: the prompt, plus (infilling) the first span's <sop>
  std::vector<std::int32_t> toks = p.tokens, pos = p.positions;
  int span = 0;
  if (p.infill()) {
    toks.push_back(sp.sop);
    pos.push_back(p.mask_positions[0]);
  }
  const DeviceKind where = engine.device().kind;
  const std::size_t in_use = memory_stats(where).in_use;
  reset_peak_memory(where);
  auto t0 = clock::now();
  const std::int64_t last = static_cast<std::int64_t>(toks.size()) - 1;
  Tensor logits = engine.forward(cache, toks, pos, p.prefix_len, {&last, 1});
  g.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  g.prefill_tokens = static_cast<std::int64_t>(toks.size());
  g.prefill_peak_bytes = static_cast<double>(memory_stats(where).peak - in_use);
  // the position the next generated token takes
  auto next_position = [&](int sp_index) {
    return p.infill() ? p.mask_positions[sp_index] : cache.length();
  };

  parallel::Communicator* const group = engine.tp_group();
  const parallel::CommStats comm0 = group ? group->stats() : parallel::CommStats{};
  t0 = clock::now();
  std::uint64_t step = 0;
  std::vector<std::int32_t> history = toks;  // the sequence the model has seen so far
  while (static_cast<int>(g.tokens.size()) < o.max_new_tokens) {
    if (o.repetition.active())
      apply_repetition_controls({logits.data<float>(), static_cast<std::size_t>(logits.size(1))},
                                history, o.repetition);
    if (static_cast<int>(g.tokens.size()) < o.min_new_tokens && sp.eop >= 0 &&
        sp.eop < logits.size(1))
      logits.data<float>()[sp.eop] = -INFINITY;
    // Sampled once, by rank 0 of a tensor-parallel group, and sent to the others, so every
    // rank feeds the same token.
    parallel::Communicator* tp = group;
    std::int32_t id = 0;
    if (!tp || tp->rank() == 0)
      id = sample_token({logits.data<float>(), static_cast<std::size_t>(logits.size(1))},
                        vocab_limit, o.sampling, step);
    ++step;
    if (tp) tp->broadcast(std::as_writable_bytes(std::span<std::int32_t>(&id, 1)), 0);
    std::int32_t feed, feed_pos;
    if (id == sp.eop) {
      g.span_finished[span] = true;
      if (++span >= spans) break;
      feed = sp.sop;  // the next [MASK]'s span starts
      feed_pos = p.mask_positions[span];
    } else {
      g.tokens.push_back(id);
      g.span_of_token.push_back(span);
      if (on_token) on_token(span, id);
      if (static_cast<int>(g.tokens.size()) >= o.max_new_tokens) break;
      feed = id;
      feed_pos = next_position(span);
    }
    history.push_back(feed);
    const std::int64_t row = 0;
    logits = engine.forward(cache, {&feed, 1}, {&feed_pos, 1}, p.prefix_len, {&row, 1});
    ++g.decode_steps;
  }
  g.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  if (group) {
    const parallel::CommStats& comm = group->stats();
    g.decode_comm_seconds = comm.seconds - comm0.seconds;
    for (int op = 0; op < parallel::kNumCommOps; ++op)
      g.decode_collectives += comm.calls[op] - comm0.calls[op];
  }
  return g;
}

std::string empty_generation_note(const Generation& g, const GenerateOptions& o) {
  if (!g.tokens.empty() || o.max_new_tokens == 0) return "";
  return fmt::format(
      "no new tokens: the model's first choice was <eop>, which ends generation{}; "
      "--min-new-tokens N keeps <eop> out until N tokens are generated",
      g.span_finished.size() > 1 ? " (in every blank)" : "");
}

}  // namespace glm::infer
