#include "kernels/cuda/cuda_activations.h"

#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_flag.h"
#include "kernels/cuda/pointwise_launch.h"

namespace glm::kernels::cuda {
namespace {

void check_geglu(const char* op, const Tensor& g, const Tensor& u) {
  require_f32(op, "g", g);
  require_f32(op, "u", u);
  GLM_CHECK(u.dim() >= 1 && u.size(-1) % 2 == 0, "{}: u must be [R, 2f], got {}", op,
            shape_str(u.shape()));
  Shape gs = u.shape();
  gs.back() /= 2;
  require_shape(op, "g", g, gs);
}

void rope_apply(const char* op, Tensor& qkv, const Tensor& positions, float base, float sign) {
  require_f32(op, "qkv", qkv);
  require_i32(op, "positions", positions);
  GLM_CHECK(qkv.dim() == 4 && qkv.size(2) == 3, "{}: qkv must be [R, a, 3, d], got {}", op,
            shape_str(qkv.shape()));
  const std::int64_t R = qkv.size(0), a = qkv.size(1), d = qkv.size(3);
  GLM_CHECK(d % 2 == 0, "{}: head dim {} must be even", op, d);
  require_shape(op, "positions", positions, {R});
  check_launch(launch_rope(qkv.data<float>(), positions.data<std::int32_t>(), R, a, d, base, sign,
                           current_stream()),
               op);
}

}  // namespace

void geglu_forward(Tensor& g, const Tensor& u) {
  check_geglu("cuda::geglu_forward", g, u);
  const std::int64_t f = u.size(-1) / 2;
  check_launch(launch_geglu_forward(g.data<float>(), u.data<float>(), rows_of(u), f,
                                    current_stream()),
               "cuda::geglu_forward");
}

void geglu_backward(Tensor& du, const Tensor& dg, const Tensor& u) {
  constexpr const char* op = "cuda::geglu_backward";
  check_geglu(op, dg, u);
  require_f32(op, "du", du);
  require_shape(op, "du", du, u.shape());
  const std::int64_t f = u.size(-1) / 2;
  check_launch(launch_geglu_backward(du.data<float>(), dg.data<float>(), u.data<float>(),
                                     rows_of(u), f, current_stream()),
               op);
}

void rope_forward(Tensor& qkv, const Tensor& positions, float base) {
  rope_apply("cuda::rope_forward", qkv, positions, base, 1.f);
}

void rope_backward(Tensor& dqkv, const Tensor& positions, float base) {
  rope_apply("cuda::rope_backward", dqkv, positions, base, -1.f);
}

void embedding_forward(Tensor& x, const Tensor& tokens, const Tensor& table,
                       std::int64_t vocab_start, std::int64_t vocab_total) {
  constexpr const char* op = "cuda::embedding_forward";
  require_f32(op, "x", x);
  require_i32(op, "tokens", tokens);
  require_f32(op, "table", table);
  GLM_CHECK(table.dim() == 2, "{}: table must be [V, h], got {}", op, shape_str(table.shape()));
  const std::int64_t V = table.size(0), h = table.size(1), R = tokens.numel();
  GLM_CHECK(vocab_start >= 0 && vocab_start + V <= vocab_total,
            "{}: table rows [{}, {}) outside the vocabulary of {}", op, vocab_start,
            vocab_start + V, vocab_total);
  GLM_CHECK(x.dim() >= 1 && x.size(-1) == h && rows_of(x) == R,
            "{}: x {} does not match tokens {} and table {}", op, shape_str(x.shape()),
            shape_str(tokens.shape()), shape_str(table.shape()));
  GLM_CHECK(R < INT_MAX, "{}: {} rows exceed the int32 row index", op, R);
  DeviceFlag bad(INT_MAX);
  check_launch(launch_embedding_forward(x.data<float>(), tokens.data<std::int32_t>(),
                                        table.data<float>(), R, V, h, vocab_start, vocab_total,
                                        bad.get(), current_stream()),
               op);
  const std::int32_t r = bad.read();
  if (r != INT_MAX)
    throw InputError(fmt::format("embedding: token {} at row {} is outside the vocabulary [0, {})",
                                 read_i32(tokens, r), r, vocab_total));
}

void embedding_backward(Tensor& dtable, const Tensor& dx, const Tensor& tokens, float alpha,
                        std::int64_t vocab_start) {
  constexpr const char* op = "cuda::embedding_backward";
  require_f32(op, "dtable", dtable);
  require_f32(op, "dx", dx);
  require_i32(op, "tokens", tokens);
  GLM_CHECK(dtable.dim() == 2, "{}: dtable must be [V, h], got {}", op, shape_str(dtable.shape()));
  const std::int64_t V = dtable.size(0), h = dtable.size(1), R = tokens.numel();
  GLM_CHECK(dx.dim() >= 1 && dx.size(-1) == h && rows_of(dx) == R,
            "{}: dx {} does not match tokens {} and dtable {}", op, shape_str(dx.shape()),
            shape_str(tokens.shape()), shape_str(dtable.shape()));
  GLM_CHECK(R < INT_MAX, "{}: {} rows exceed the int32 row index", op, R);
  DeviceFlag bad(INT_MAX);
  check_launch(launch_embedding_backward(dtable.data<float>(), dx.data<float>(),
                                         tokens.data<std::int32_t>(), alpha, R, V, h, vocab_start,
                                         bad.get(), current_stream()),
               op);
  const std::int32_t r = bad.read();
  if (r != INT_MAX)
    throw InputError(
        fmt::format("embedding: token {} at row {} is negative", read_i32(tokens, r), r));
}

void softmax_cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                           float grad_scale, bool write_grad) {
  constexpr const char* op = "cuda::softmax_cross_entropy";
  require_f32(op, "losses", losses);
  require_f32(op, "logits", logits);
  require_i32(op, "targets", targets);
  GLM_CHECK(logits.dim() == 2, "{}: logits must be [R, V], got {}", op, shape_str(logits.shape()));
  const std::int64_t R = logits.size(0), V = logits.size(1);
  require_numel(op, "targets", targets, R);
  require_numel(op, "losses", losses, R);
  GLM_CHECK(V > 0 || R == 0, "{}: empty vocabulary", op);
  GLM_CHECK(R < INT_MAX, "{}: {} rows exceed the int32 row index", op, R);
  DeviceFlag bad(INT_MAX);
  check_launch(launch_softmax_cross_entropy(losses.data<float>(), logits.data<float>(),
                                            targets.data<std::int32_t>(), R, V, grad_scale,
                                            write_grad, bad.get(), current_stream()),
               op);
  const std::int32_t r = bad.read();
  if (r != INT_MAX)
    throw InputError(fmt::format(
        "cross-entropy: target {} at row {} is outside the vocabulary [0, {})",
        read_i32(targets, r), r, V));
}

}  // namespace glm::kernels::cuda
