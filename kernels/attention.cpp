// The training attention ops' entries: checked once here, then run by
// kernels/cpu/attention.cpp or on CUDA by kernels/cuda/cuda_attention.cpp (the flash path
// when probs is [B, a, T], the unfused cuBLAS path when it is [B, a, T, T]) and the softmax
// kernels of attention_kernels.cu. The mask lengths are data: the CPU checks them against
// [0, T], CUDA clamps them on the device (a check there would cost a synchronisation).
// The CPU attention forward and backward read and write 16-bit storage natively (the
// 16-bit GEMM where the CPU has it, else a sample widened at a time); so do CUDA's flash
// kernels (qkv, ctx, dctx, dqkv; their row statistics are fp32). CUDA's unfused path and the
// standalone softmax ops see 16-bit tensors through Wide.
#include "kernels/attention.h"

#include <utility>
#include <vector>

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include "kernels/cuda/attention_launch.h"
#include "kernels/cuda/cuda_attention.h"
#include "kernels/cuda/cuda_check.h"
#endif

namespace glm::kernels {
namespace {

struct Dims {
  std::int64_t B, T, a, d;
};

void check_mask(const char* op, const AttentionMask& mask, std::int64_t B) {
  require_i32(op, "mask.prefix_len", mask.prefix_len);
  require_i32(op, "mask.valid_len", mask.valid_len);
  require_shape(op, "mask.prefix_len", mask.prefix_len, {B});
  require_shape(op, "mask.valid_len", mask.valid_len, {B});
}

// qkv [B, T, a, 3, d] (f32, f16 or bf16) as args describe it, the layer number and the dropout
// probability, and the mask of B samples.
Dims check_qkv(const char* op, const Tensor& qkv, const AttentionMask& mask,
               const AttentionArgs& args) {
  require_float_storage(op, "qkv", qkv);
  GLM_CHECK(qkv.dim() == 5 && qkv.size(3) == 3 && qkv.size(2) == args.heads &&
                qkv.size(4) == args.head_dim,
            "{}: qkv {} is not [B, T, a={}, 3, d={}]", op, shape_str(qkv.shape()), args.heads,
            args.head_dim);
  GLM_CHECK(args.layer_number >= 1, "{}: layer_number {} must be >= 1", op, args.layer_number);
  if (!(args.dropout_p >= 0.f && args.dropout_p < 1.f))
    throw InputError(
        fmt::format("attention dropout probability {} is outside [0, 1)", args.dropout_p));
  check_mask(op, mask, qkv.size(0));
  return {qkv.size(0), qkv.size(1), qkv.size(2), qkv.size(4)};
}

// What both attention entries start from: the device of all their tensors (the call's own,
// then probs, qkv and the mask's), the checked qkv dims, and whether probs is the flash
// path's saved state, the log-sum-exp of each query row (CUDA only).
struct AttentionCall {
  Device dev;
  Dims dims;
  bool flash;
};
AttentionCall attention_call(const char* op, std::initializer_list<Arg> own, const Tensor& probs,
                             const Tensor& qkv, const AttentionMask& mask,
                             const AttentionArgs& args) {
  std::vector<Arg> tensors(own);
  tensors.insert(tensors.end(), {{"probs", probs},
                                 {"qkv", qkv},
                                 {"mask.prefix_len", mask.prefix_len},
                                 {"mask.valid_len", mask.valid_len}});
  const Device dev = op_device(op, tensors);
  const Dims D = check_qkv(op, qkv, mask, args);
  return {dev, D, dev.is_cuda() && probs.shape() == Shape{D.B, D.a, D.T}};
}

}  // namespace

void attention_softmax_forward(Tensor& scores, const AttentionMask& mask, float scale) {
  if (any_16bit({&scores})) {
    Wide S(scores, Wide::inout);
    attention_softmax_forward(*S, mask, scale);
    return S.store();
  }
  constexpr const char* op = "attention_softmax_forward";
  [[maybe_unused]] const Device dev = op_device(op, {{"scores", scores},
                                                     {"mask.prefix_len", mask.prefix_len},
                                                     {"mask.valid_len", mask.valid_len}});
  require_f32(op, "scores", scores);
  GLM_CHECK(scores.dim() == 4 && scores.size(2) == scores.size(3),
            "{}: scores must be [B, a, T, T], got {}", op, shape_str(scores.shape()));
  check_mask(op, mask, scores.size(0));
  GLM_CHECK(scale > 0.f, "{}: scale {} must be positive", op, scale);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(cuda::launch_attention_softmax_rows(
                                  scores.data<float>(), mask.prefix_len.data<std::int32_t>(),
                                  mask.valid_len.data<std::int32_t>(), scores.size(0),
                                  scores.size(1), scores.size(2), scale, cuda::current_stream()),
                              op);
#endif
  cpu::attention_softmax_forward(scores, mask, scale);
}

void attention_softmax_backward(Tensor& dprobs, const Tensor& probs, float scale) {
  if (any_16bit({&dprobs, &probs})) {
    Wide DP(dprobs, Wide::inout), P(probs);
    attention_softmax_backward(*DP, *P, scale);
    return DP.store();
  }
  constexpr const char* op = "attention_softmax_backward";
  [[maybe_unused]] const Device dev = op_device(op, {{"dprobs", dprobs}, {"probs", probs}});
  require_f32(op, "dprobs", dprobs);
  require_f32(op, "probs", probs);
  require_shape(op, "dprobs", dprobs, probs.shape());
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    const std::int64_t T = probs.dim() > 0 ? probs.size(-1) : 0;
    return cuda::check_launch(cuda::launch_attention_softmax_backward_rows(
                                  dprobs.data<float>(), probs.data<float>(), rows_of(probs), 1, T,
                                  scale, 0, nullptr, cuda::current_stream()),
                              op);
  }
#endif
  cpu::attention_softmax_backward(dprobs, probs, scale);
}

void attention_forward(Tensor& ctx, Tensor& probs, const Tensor& qkv, const AttentionMask& mask,
                       const AttentionArgs& args) {
  constexpr const char* op = "attention_forward";
  const auto [dev, dims, flash] = attention_call(op, {{"ctx", ctx}}, probs, qkv, mask, args);
  const auto [B, T, a, d] = dims;
  // The flash kernels take qkv and ctx as stored; CUDA's unfused path, and 16-bit row
  // statistics, see fp32 copies.
  if (dev.is_cuda() && any_16bit({&ctx, &probs, &qkv}) && (!flash || is_16bit(probs))) {
    Wide C(ctx, Wide::out), P(probs, Wide::out), Q(qkv);
    attention_forward(*C, *P, *Q, mask, args);
    P.store();
    return C.store();
  }
  require_float_storage(op, "ctx", ctx);
  require_float_storage(op, "probs", probs);
  require_shape(op, "ctx", ctx, {B, T, a * d});
  if (flash) require_f32(op, "lse", probs);
  if (!flash) require_shape(op, "probs", probs, {B, a, T, T});
#ifdef GLM_WITH_CUDA
  if (flash) return cuda::attention_forward_flash(ctx, probs, qkv, mask, args);
  if (dev.is_cuda()) return cuda::attention_forward_unfused(ctx, probs, qkv, mask, args);
#endif
  cpu::attention_forward(ctx, probs, qkv, mask, args);
}

void attention_backward(Tensor& dqkv, Tensor& scratch, const Tensor& dctx, const Tensor& probs,
                        const Tensor& qkv, const AttentionMask& mask, const AttentionArgs& args) {
  constexpr const char* op = "attention_backward";
  const auto [dev, dims, flash] = attention_call(
      op, {{"dqkv", dqkv}, {"scratch", scratch}, {"dctx", dctx}}, probs, qkv, mask, args);
  const auto [B, T, a, d] = dims;
  // As in the forward: the flash kernels take qkv, dctx and dqkv as stored.
  if (dev.is_cuda() && any_16bit({&dqkv, &scratch, &dctx, &probs, &qkv}) &&
      (!flash || any_16bit({&probs, &scratch}))) {
    Wide DQ(dqkv, Wide::out), S(scratch, Wide::out), DC(dctx), P(probs), Q(qkv);
    attention_backward(*DQ, *S, *DC, *P, *Q, mask, args);
    return DQ.store();
  }
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"dqkv", &dqkv},
                                {"scratch", &scratch}, {"dctx", &dctx}, {"probs", &probs}})
    require_float_storage(op, name, *t);
  require_shape(op, "dqkv", dqkv, qkv.shape());
  require_shape(op, "dctx", dctx, {B, T, a * d});
  if (flash) {
    require_f32(op, {{"lse", probs}, {"rowdot", scratch}});
    // scratch holds one float per query row: D_i = dctx_i . ctx_i.
    GLM_CHECK(scratch.numel() >= B * a * T, "{}: rowdot {} holds fewer than B*a*T = {} floats", op,
              scratch.describe(), B * a * T);
  } else {
    require_shape(op, "probs", probs, {B, a, T, T});
    require_shape(op, "scratch", scratch, {B, a, T, T});
  }
#ifdef GLM_WITH_CUDA
  if (flash) return cuda::attention_backward_flash(dqkv, scratch, dctx, probs, qkv, mask, args);
  if (dev.is_cuda())
    return cuda::attention_backward_unfused(dqkv, scratch, dctx, probs, qkv, mask, args);
#endif
  cpu::attention_backward(dqkv, scratch, dctx, probs, qkv, mask, args);
}

}  // namespace glm::kernels
