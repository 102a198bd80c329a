// Argument checks of the ops, run once in each op's entry (kernels/<op>.cpp) for every
// backend, before it dispatches to kernels/cpu or kernels/cuda. Shape mismatches are bugs
// in the caller (the model), so they are GLM_CHECKs that print the shapes; data errors (a
// bad token id) are InputErrors raised by the backends, which alone read the data.
//
// Adding an op:
//   1. declare it in kernels/<op>.h (Tensor arguments: the public API);
//   2. write its entry in kernels/<op>.cpp: op_device() over every tensor argument, the
//      dtype and shape checks below, then on a CUDA device (under GLM_WITH_CUDA) the CUDA
//      launcher, else cpu::<op>;
//   3. one kernel per backend: cpu::<op> in kernels/cpu/<op>.cpp (declared in
//      kernels/cpu/ops.h; takes checked tensors), and a kernel with its raw-pointer launcher
//      in kernels/cuda/<op>_kernels.cu (declared in a kernels/cuda/*_launch.h; nvcc compiles
//      no fmt, so .cu files see no Tensor).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/gemm.h"

namespace glm::kernels {

// One tensor argument of an op, named for the messages; a null pointer is an absent
// optional argument.
struct Arg {
  std::string_view name;
  const Tensor* t;
  Arg(std::string_view n, const Tensor& tensor) : name(n), t(&tensor) {}
  Arg(std::string_view n, const Tensor* tensor) : name(n), t(tensor) {}
};

// The device an op runs on: CUDA when any of its tensors is on a CUDA device, else the CPU.
// Throws naming the op and the tensor when the tensors are mixed (a CUDA op with a host
// tensor), or when a tensor is on a device this build has no backend for. The device index
// is not compared: the CUDA kernels run on the current device (kernels/cuda/cuda_stream.h).
Device op_device(std::string_view op, std::span<const Arg> args);
inline Device op_device(std::string_view op, std::initializer_list<Arg> args) {
  return op_device(op, std::span<const Arg>(args.begin(), args.size()));
}

// dtype and contiguity: every kernel indexes raw contiguous memory.
inline void require_contiguous(std::string_view op, std::string_view name, const Tensor& t) {
  GLM_CHECK(t.is_contiguous(), "{}: {} must be contiguous, got {} with strides {}", op, name,
            t.describe(), shape_str(t.strides()));
}
inline void require_layout(std::string_view op, std::string_view name, const Tensor& t,
                           DType dtype) {
  GLM_CHECK(t.dtype() == dtype, "{}: {} is {}, expected {}", op, name, t.describe(),
            dtype_name(dtype));
  require_contiguous(op, name, t);
}
// f32, f16 or bf16 and contiguous: a kernel that reads 16-bit storage natively.
inline void require_float_storage(std::string_view op, std::string_view name, const Tensor& t) {
  GLM_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f16 || t.dtype() == DType::bf16,
            "{}: {} is {}, expected f32, f16 or bf16", op, name, t.describe());
  require_contiguous(op, name, t);
}
inline void require_f32(std::string_view op, std::string_view name, const Tensor& t) {
  require_layout(op, name, t, DType::f32);
}
inline void require_i32(std::string_view op, std::string_view name, const Tensor& t) {
  require_layout(op, name, t, DType::i32);
}
// fp32 and contiguous, each of the given (present) tensors.
inline void require_f32(std::string_view op, std::initializer_list<Arg> args) {
  for (const Arg& a : args)
    if (a.t) require_f32(op, a.name, *a.t);
}

inline void require_shape(std::string_view op, std::string_view name, const Tensor& t,
                          const Shape& expected) {
  GLM_CHECK(t.shape() == expected, "{}: {} has shape {}, expected {}", op, name,
            shape_str(t.shape()), shape_str(expected));
}
inline void require_numel(std::string_view op, std::string_view name, const Tensor& t,
                          std::int64_t expected) {
  GLM_CHECK(t.numel() == expected, "{}: {} has shape {} ({} elements), expected {} elements", op,
            name, shape_str(t.shape()), t.numel(), expected);
}

// A tensor viewed as [rows, last dim]: rows = numel / last dim (0 for an empty tensor).
inline std::int64_t rows_of(const Tensor& t) {
  if (t.dim() == 0) return 1;
  const std::int64_t c = t.size(-1);
  return c == 0 ? 0 : t.numel() / c;
}

// A product y [R, out] = x [R, in] W [out, in]^T, or its backward with dy in y's place: the
// activations are of dtype act, W of dtype weight, all contiguous and of matching shapes.
struct LinearDims {
  std::int64_t R, out, in;
};
// The shapes alone (any storage), each tensor contiguous.
inline LinearDims require_linear_shapes(std::string_view op, const Tensor& y_or_dy,
                                        const Tensor& x, const Tensor& W) {
  require_contiguous(op, "x", x);
  require_contiguous(op, "W", W);
  require_contiguous(op, "y", y_or_dy);
  GLM_CHECK(W.dim() == 2, "{}: W must be [out, in], got {}", op, shape_str(W.shape()));
  const std::int64_t out = W.size(0), in = W.size(1);
  GLM_CHECK(x.dim() >= 1 && x.size(-1) == in, "{}: x {} does not match W {}", op,
            shape_str(x.shape()), shape_str(W.shape()));
  const std::int64_t R = rows_of(x);
  GLM_CHECK(y_or_dy.dim() >= 1 && y_or_dy.size(-1) == out && rows_of(y_or_dy) == R,
            "{}: y {} does not match x {} and W {}", op, shape_str(y_or_dy.shape()),
            shape_str(x.shape()), shape_str(W.shape()));
  return {R, out, in};
}

inline LinearDims require_linear(std::string_view op, const Tensor& y_or_dy, const Tensor& x,
                                 const Tensor& W, DType act, DType weight) {
  require_layout(op, "x", x, act);
  require_layout(op, "W", W, weight);
  require_layout(op, "y", y_or_dy, act);
  return require_linear_shapes(op, y_or_dy, x, W);
}

// The raw operands of a GEMM (kernels/gemm.h, kernels/cuda/cuda_gemm.h): sizes >= 0, each
// leading dimension at least its stored matrix's row width (A is M x K, or K x M when
// transposed; B is K x N, or N x K; C is M x N), C present, A and B present unless the
// product is empty.
inline void require_gemm_dims(std::string_view op, Trans ta, Trans tb, std::int64_t M,
                              std::int64_t N, std::int64_t K, std::int64_t lda, std::int64_t ldb,
                              std::int64_t ldc, std::int64_t batch, const void* A, const void* B,
                              const void* C) {
  GLM_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, "{}: M={} N={} K={} batch={}", op, M, N, K,
            batch);
  const std::int64_t a_cols = ta == Trans::N ? K : M, b_cols = tb == Trans::N ? N : K;
  GLM_CHECK(lda >= std::max<std::int64_t>(a_cols, 1), "{}: lda={} < {} (M={} N={} K={})", op, lda,
            a_cols, M, N, K);
  GLM_CHECK(ldb >= std::max<std::int64_t>(b_cols, 1), "{}: ldb={} < {} (M={} N={} K={})", op, ldb,
            b_cols, M, N, K);
  GLM_CHECK(ldc >= std::max<std::int64_t>(N, 1), "{}: ldc={} < N={}", op, ldc, N);
  GLM_CHECK(C != nullptr, "{}: C is null", op);
  GLM_CHECK(K == 0 || M == 0 || N == 0 || (A != nullptr && B != nullptr), "{}: A or B is null", op);
}

}  // namespace glm::kernels
