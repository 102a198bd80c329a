#include "plan/inference_plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace glm::plan {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

struct Bytes {
  double linear = 0, scales = 0, replicated = 0;
};

// One linear's shard [out, in] as stored, its bias (fp32) local or replicated.
void add_linear(Bytes& b, const InferenceRequest& r, std::int64_t out, std::int64_t in,
                std::int64_t bias, bool bias_replicated) {
  b.linear += static_cast<double>(out) * in * r.bits / 8.0;
  if (r.bits < 16) b.scales += 2.0 * out * (r.group_size > 0 ? in / r.group_size : 1);
  (bias_replicated ? b.replicated : b.linear) += 4.0 * bias;
}

Bytes weight_bytes(const modeldef::ModelConfig& c, const InferenceRequest& r) {
  const std::int64_t h = c.hidden_size, f = c.ffn_hidden_size, N = r.gpus;
  Bytes b;
  for (int l = 0; l < c.num_layers; ++l) {
    add_linear(b, r, 3 * h / N, h, 3 * h / N, false);  // QKV, column-parallel by heads
    add_linear(b, r, h, h / N, h, true);               // attention output, row-parallel
    add_linear(b, r, 2 * f / N, h, 2 * f / N, false);  // W1 (x1 and x2 halves), column
    add_linear(b, r, h, f / N, h, true);               // W2, row-parallel
    b.replicated += 4.0 * h * (c.has_sublayer_output_norms() ? 8 : 4);  // LayerNorms
  }
  // fp16, the tied head, vocabulary-parallel: the largest of the GPUs' vocab_slice rows
  b.linear += 2.0 * ((c.vocab_size + N - 1) / N) * h;
  b.replicated += 4.0 * 2 * h;  // final LayerNorm
  return b;
}

double kv_bytes(const modeldef::ModelConfig& c, const InferenceRequest& r, std::int64_t batch,
                std::int64_t context) {
  const double value = r.storage == "16bit" || r.kv_cache == "fp16" ? 2.0 : 4.0;
  return 2.0 * c.num_layers * (c.hidden_size / r.gpus) * value * batch * context;
}

}  // namespace

double inference_activation_bytes(const modeldef::ModelConfig& c, int gpus, std::int64_t context) {
  const double h = c.hidden_size, f = c.ffn_hidden_size, N = gpus;
  // The forward (GLMModel::forward_cached): x, a, h, m and the layer's output scratch [n, h];
  // qkv, ctx, u, g of the local heads and GeGLU slice; the fp16 copy of the widest linear
  // input; then the logits row of this rank's vocabulary slice (the whole V in one process).
  const double per_token = 4.0 * (5 * h + 4 * h / N + 3 * f / N) + 2.0 * std::max(h, f / N);
  const double width = static_cast<double>((c.vocab_size + gpus - 1) / gpus);
  const double forward = per_token * context + 4.0 * (gpus > 1 ? width : c.vocab_size);
  // Over ranks, once the forward's buffers are freed: that slice, its padded copy, the N
  // all-gathered slices and the whole row.
  const double gather = gpus > 1 ? 4.0 * ((N + 2) * width + c.vocab_size) : 0.0;
  return std::max(forward, gather);
}

InferencePlan plan_inference(const modeldef::ModelConfig& c, const InferenceRequest& req,
                             const Hardware& hw) {
  InferenceRequest r = req;
  if (r.context <= 0) r.context = c.seq_length;
  if (r.bits != 16 && r.bits != 8 && r.bits != 4)
    throw InputError(fmt::format("--bits {}: expected 16, 8 or 4", r.bits));
  if (r.gpus < 1 || c.num_heads % r.gpus || c.ffn_hidden_size % r.gpus)
    throw InputError(fmt::format("--gpus {} must divide the {} heads and the GeGLU size {} "
                                 "(one tensor-parallel shard per GPU)",
                                 r.gpus, c.num_heads, c.ffn_hidden_size));
  if (r.batch < 1) throw InputError(fmt::format("--batch {}: must be >= 1", r.batch));
  if (r.storage != "as-built" && r.storage != "16bit")
    throw InputError(fmt::format("--storage '{}': expected as-built or 16bit", r.storage));
  if (r.kv_cache != "fp32" && r.kv_cache != "fp16")
    throw InputError(fmt::format("--kv-cache '{}': expected fp32 or fp16", r.kv_cache));
  if (r.bits < 16 && r.group_size > 0 &&
      (c.hidden_size % (r.gpus * r.group_size) || c.ffn_hidden_size % (r.gpus * r.group_size)))
    throw InputError(fmt::format("--group-size {} does not divide every shard's inputs (h/{} = "
                                 "{}, f/{} = {})",
                                 r.group_size, r.gpus, c.hidden_size / r.gpus, r.gpus,
                                 c.ffn_hidden_size / r.gpus));
  InferencePlan p;
  p.request = r;
  const Bytes w = weight_bytes(c, r);
  p.linear_bytes = w.linear;
  p.scale_bytes = w.scales;
  p.replicated_bytes = w.replicated;
  p.kv_bytes = kv_bytes(c, r, r.batch, r.context);
  p.activation_bytes = inference_activation_bytes(c, r.gpus, r.context);
  p.usable_bytes = (hw.hbm_gib.value - hw.reserved_gib.value) * kGiB;
  const double fixed = w.linear + w.scales + w.replicated;
  auto fits = [&](std::int64_t batch, std::int64_t context) {
    return fixed + kv_bytes(c, r, batch, context) + inference_activation_bytes(c, r.gpus, context) <=
           p.usable_bytes;
  };
  // Both grow linearly: the largest values by doubling, then bisection.
  auto largest = [](auto ok) {
    std::int64_t lo = 0, hi = 1;
    while (ok(hi) && hi < (std::int64_t{1} << 40)) lo = hi, hi *= 2;
    while (hi - lo > 1) {
      const std::int64_t mid = lo + (hi - lo) / 2;
      (ok(mid) ? lo : hi) = mid;
    }
    return lo;
  };
  p.max_context = largest([&](std::int64_t t) { return fits(r.batch, t); });
  p.max_batch = largest([&](std::int64_t b) { return fits(b, r.context); });
  return p;
}

std::string format_inference_plan(const InferencePlan& p, const Hardware& hw) {
  const InferenceRequest& r = p.request;
  const std::string weights =
      r.bits == 16 ? std::string("fp16")
                   : fmt::format("INT{} ({})", r.bits,
                                 r.group_size > 0 ? fmt::format("group {}", r.group_size)
                                                  : std::string("per-row scales"));
  std::string s = fmt::format(
      "inference on {} x {} ({:.1f} GiB each, {:.1f} GiB reserved: {}): {} weights, tensor "
      "parallel {}, batch {} x context {}, storage {}\n",
      r.gpus, hw.name, hw.hbm_gib.value, hw.reserved_gib.value, hw.reserved_gib.source, weights,
      r.gpus, r.batch, r.context, r.storage);
  const bool paper = r.storage == "16bit";
  auto line = [&](const char* what, double bytes, const char* note) {
    s += fmt::format("  {:<22} {:>9.2f} GiB  {}\n", what, bytes / kGiB, note);
  };
  line("linears (this shard)", p.linear_bytes,
       "values and local biases, the fp16 embedding's vocabulary shard (tied head)");
  line("quantization scales", p.scale_bytes, "fp16");
  line("replicated", p.replicated_bytes, "LayerNorms, row-parallel biases");
  line("KV cache", p.kv_bytes,
       paper || r.kv_cache == "fp16" ? "fp16 K and V of this GPU's heads"
                                     : "fp32 K and V of this GPU's heads");
  line("activations", p.activation_bytes, "a prefill of the whole context, and the logits row");
  line("total per GPU", p.total(), "");
  s += fmt::format("  verdict: {} ({:.2f} of {:.2f} GiB usable); largest context at batch {}: "
                   "{}; largest batch at context {}: {}\n",
                   p.fits() ? "fits" : "does not fit", p.total() / kGiB, p.usable_bytes / kGiB,
                   r.batch, p.max_context, r.context, p.max_batch);
  return s;
}

}  // namespace glm::plan
