// The op-consistency harness: one table of kernel ops, each registered
// once with its shapes, run on every backend present through the public entries of
// kernels/*.h (which dispatch on the tensors' device).
//
// A row (OpRow) gives seeded host inputs, a forward that runs the op on one backend, an
// fp64 reference written with plain loops in the test, and optionally a backward. For every
// backend the harness checks
//   - each output against the fp64 reference (OutSpec::tol, or bit for bit when exact);
//   - each gradient of L = sum_k w_k . y_k (w random, seeded) against central differences of
//     the fp64 reference in fp64 (every element of small inputs, a seeded sample of large);
//   - on CUDA, each output and gradient also against the CPU result (OutSpec::cuda_tol).
// Without a CUDA device the CUDA instances skip with a visible reason.
// Each row also runs with 16-bit storage (instances <row>_cpu_bf16, <row>_cpu_fp16 and
// <row>_cuda_bf16): its fp32 inputs rounded to bf16 / fp16 and stored so, every float
// tensor the row allocates stored so too, the reference computed from the rounded inputs,
// and the tolerances widened by the storage's rounding (kernels/widen.h: the op computes in
// fp32 and rounds each output once). A row with inputs that are not fp32 values (f16 bit
// patterns, packed weights) or an op without 16-bit storage says so in f32_only.
//
// Rows register themselves with GLM_OP_ROWS (see test_ops_*.cpp); each becomes the tests
// Ops/OpHarness.MatchesReference/<row>_cpu and .../<row>_cuda. Argument checks register
// with GLM_OP_ERROR_ROWS and become Ops/OpHarnessErrors.Throws/<row>_cpu and _cuda. GLM_OP_TIMING=N adds a timing
// pass: the median of N runs of the forward and of the backward per backend is printed.
// docs/building-and-testing.md says how to add a row.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace glm::ops {

using Vec = std::vector<double>;

// |got - want| <= rtol * |want| + atol * max|want| per element.
struct Tol {
  double rtol = 0, atol = 0;
};

// fp32 kernels against fp64 loops and CUDA against the CPU: reductions over n <= ~1000 terms
// in fp32 err by ~sqrt(n) * 2^-24 ~ 2e-6 typically (n * 2^-24 ~ 6e-5 worst case) and the two
// backends' libm (exp, tanh, sincos) by <= 2 ulp; 2e-5 relative with a 2e-6 floor of the
// tensor's scale catches any wrong term (an O(1) error) with margin. The same bound the
// per-op CUDA tests used for CUDA against the CPU.
inline constexpr Tol kF32{2e-5, 2e-6};
// A CUDA result that must equal the CPU's bit for bit (a copy, a max, a mask decision, one
// fp32 add per element): zero tolerance (a NaN fails it).
inline constexpr Tol kBitEqual{0, 0};

struct OutSpec {
  std::string name;
  Tol tol = kF32;       // against the fp64 reference
  Tol cuda_tol = kF32;  // CUDA against the CPU result
  bool exact = false;   // bit for bit against the reference and between backends
};

// One output of a forward: a tensor on the backend's device, or host scalars (reductions
// such as sum_squares). saved_only marks a tensor the backward reads that this backend
// stores in another form (CUDA flash attention's softmax statistics): it is not compared.
struct Out {
  Tensor t;
  Vec scalars;
  bool saved_only = false;
  bool compared() const { return !saved_only && (t.defined() || !scalars.empty()); }
};

// A gradient from a backward: value - start = scale * dL/dinput (start: the contents the
// accumulating kernels (+=) began from; scale: a factor the op applies by contract, e.g.
// the embedding's EGS alpha).
struct Grad {
  Tensor value;
  Tensor start;  // host, or undefined for "started from zero / overwritten"
  double scale = 1;
};

// The row's inputs on one backend; forward and backward allocate their outputs through it.
// Floating-point tensors (f32 asked for) are stored in `storage`: f32, or f16 / bf16 in the
// 16-bit instances.
struct RowRun {
  Device device;
  std::vector<Tensor> in;  // copies of OpRow::inputs on `device`
  DType storage = DType::f32;
  Tensor put(const Tensor& host) const;  // on `device`, f32 values rounded into `storage`
  Tensor empty(const Shape& s, DType t = DType::f32) const {
    return Tensor::empty(s, t == DType::f32 ? storage : t, device);
  }
  Tensor zeros(const Shape& s, DType t = DType::f32) const {
    return Tensor::zeros(s, t == DType::f32 ? storage : t, device);
  }
  bool cuda() const { return device.kind == DeviceKind::cuda; }
};

struct OpRow {
  std::vector<Tensor> inputs;  // host tensors (f32, i32, f16 bits, i8, u8)
  std::vector<OutSpec> outputs;
  std::function<std::vector<Out>(RowRun&)> forward;
  // fp64 outputs from the inputs as doubles (f16 inputs as their bit patterns).
  std::function<std::vector<Vec>(const std::vector<Vec>&)> reference;

  // Backward (optional): the gradients of L = sum_k w_k . y_k over `loss_outputs` with
  // respect to inputs[diff[i]], given the forward's outputs (for saved tensors) and the
  // cotangents w on the device (one per loss output).
  std::vector<int> diff, loss_outputs;
  std::function<std::vector<Grad>(RowRun&, const std::vector<Out>&, const std::vector<Tensor>&)>
      backward;
  Tol grad_tol = kF32, grad_cuda_tol = kF32;
  // The cotangent of loss output k (default: uniform in [-1, 1), seeded); a row overrides
  // it where the op fixes its form (cross-entropy's grad_scale, fp16-representable dy).
  std::function<Tensor(int k, const Shape&)> cotangent;
};

// Registration: a named factory per row, so inputs are built only when the row runs.
struct RowFactory {
  std::string name;  // [A-Za-z0-9_]: op and shape, e.g. layernorm_R37_h203
  std::function<OpRow()> make;
  // An op whose public entry has no CUDA dispatch gets no CUDA instance (this says where its
  // CUDA kernels are tested instead).
  std::string cpu_only = {};
  // A row that runs in fp32 storage only says why (empty: it runs in 16-bit storage too).
  std::string f32_only = {};
};
std::vector<RowFactory>& registry();
struct Registrar {
  explicit Registrar(std::vector<RowFactory> (*rows)()) {
    for (auto& r : rows()) registry().push_back(std::move(r));
  }
};
#define GLM_OP_ROWS_CAT2(a, b) a##b
#define GLM_OP_ROWS_CAT(a, b) GLM_OP_ROWS_CAT2(a, b)
#define GLM_OP_ROWS(fn) \
  static const ::glm::ops::Registrar GLM_OP_ROWS_CAT(glm_op_rows_, __LINE__)(fn)

// An argument check of a public entry, made on every backend: the call must throw
// glm::Error (InputError where input_error) with `message` in its text.
struct ErrorRow {
  std::vector<Tensor> inputs;  // host tensors, copied to the backend as for OpRow
  std::function<void(RowRun&)> call;
  std::string message;
  bool input_error = true;
};
struct ErrorRowFactory {
  std::string name;
  std::function<ErrorRow()> make;
};
std::vector<ErrorRowFactory>& error_registry();
struct ErrorRegistrar {
  explicit ErrorRegistrar(std::vector<ErrorRowFactory> (*rows)()) {
    for (auto& r : rows()) error_registry().push_back(std::move(r));
  }
};
#define GLM_OP_ERROR_ROWS(fn) \
  static const ::glm::ops::ErrorRegistrar GLM_OP_ROWS_CAT(glm_op_error_rows_, __LINE__)(fn)

// Helpers the rows share.
Vec to_vec(const Tensor& host);                        // any host dtype, as doubles
Tensor host_like(const Vec& v, const Shape& s);         // f32 host tensor from doubles
double half_bits_to_double(std::uint16_t h);           // IEEE binary16 decoding, in fp64

}  // namespace glm::ops
