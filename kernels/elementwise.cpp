// The elementwise and reduction ops' entries: checked once here, then run by
// kernels/cpu/elementwise.cpp or kernels/cuda/elementwise_kernels.cu. Row indices are data,
// checked by each backend (the CPU before the copy, CUDA on the device, reported after the
// kernel) with one message. scaled_add, gather_rows and scatter_add_rows read and write
// 16-bit storage natively on both backends; the other ops see 16-bit tensors through Wide.
#include "kernels/elementwise.h"

#include <algorithm>
#include <utility>

#include "kernels/check.h"
#include "kernels/widen.h"
#include "kernels/cpu/ops.h"

#ifdef GLM_WITH_CUDA
#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_flag.h"
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/float_kind.h"
#endif

namespace glm::kernels {
namespace {

void check_same(const char* op, const char* name, const Tensor& t, const Tensor& y) {
  require_f32(op, name, t);
  require_shape(op, name, t, y.shape());
}

// rows [R, h] against the table [N, h] they are gathered from or scattered into.
void check_rows(const char* op, const Tensor& rows, const Tensor& table, const Tensor& index) {
  require_i32(op, "index", index);
  GLM_CHECK(rows.dim() == 2 && table.dim() == 2 && rows.size(1) == table.size(1) &&
                rows.size(0) == index.numel(),
            "{}: rows {} / table {} / index {} do not match", op, shape_str(rows.shape()),
            shape_str(table.shape()), shape_str(index.shape()));
}

#ifdef GLM_WITH_CUDA
void report_bad_index(const char* op, cuda::DeviceFlag& bad, const Tensor& index, std::int64_t n) {
  const std::int32_t r = bad.read();
  GLM_CHECK(r == INT_MAX, "{}: index {} at row {} outside [0, {})", op, cuda::read_i32(index, r), r,
            n);
}
#endif

}  // namespace

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b) {
  constexpr const char* op = "scaled_add";
  [[maybe_unused]] const Device dev = op_device(op, {{"y", y}, {"a", a}, {"b", b}});
  require_float_storage(op, "y", y);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"a", &a}, {"b", &b}}) {
    require_float_storage(op, name, *t);
    require_shape(op, name, *t, y.shape());
  }
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_scaled_add(cuda::float_out(y), alpha, cuda::float_in(a), cuda::float_in(b),
                                y.numel(), cuda::current_stream()),
        op);
#endif
  cpu::scaled_add(y, alpha, a, b);
}

void axpy(Tensor& y, float alpha, const Tensor& x) {
  if (any_16bit({&y, &x})) {
    Wide Y(y, Wide::inout), X(x);
    axpy(*Y, alpha, *X);
    return Y.store();
  }
  constexpr const char* op = "axpy";
  [[maybe_unused]] const Device dev = op_device(op, {{"y", y}, {"x", x}});
  require_f32(op, "y", y);
  check_same(op, "x", x, y);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(cuda::launch_axpy(y.data<float>(), alpha, x.data<float>(), y.numel(),
                                                cuda::current_stream()),
                              op);
#endif
  cpu::axpy(y, alpha, x);
}

void scale(Tensor& y, float alpha) {
  if (any_16bit({&y})) {
    Wide Y(y, Wide::inout);
    scale(*Y, alpha);
    return Y.store();
  }
  constexpr const char* op = "scale";
  [[maybe_unused]] const Device dev = op_device(op, {{"y", y}});
  require_f32(op, "y", y);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda())
    return cuda::check_launch(
        cuda::launch_scale(y.data<float>(), alpha, y.numel(), cuda::current_stream()), op);
#endif
  cpu::scale(y, alpha);
}

double sum_squares(const Tensor& x) {
  if (any_16bit({&x})) return sum_squares(*Wide(x));
  constexpr const char* op = "sum_squares";
  [[maybe_unused]] const Device dev = op_device(op, {{"x", x}});
  require_f32(op, "x", x);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    // fp64 work space (as raw bytes of an f32 tensor): [0] the result, [1..] the partials.
    Tensor work = Tensor::empty({2 * (cuda::kSumSquaresBlocks + 1)}, DType::f32, dev);
    auto* w = static_cast<double*>(work.raw());
    const cudaStream_t st = cuda::current_stream();
    cuda::check_launch(cuda::launch_sum_squares(w, w + 1, x.data<float>(), x.numel(), st), op);
    double s = 0;
    cuda::check(cudaMemcpyAsync(&s, w, sizeof(s), cudaMemcpyDeviceToHost, st), op);
    cuda::check(cudaStreamSynchronize(st), op);
    return s;
  }
#endif
  return cpu::sum_squares(x);
}

bool all_finite(const Tensor& x) {
  if (any_16bit({&x})) return all_finite(*Wide(x));
  constexpr const char* op = "all_finite";
  [[maybe_unused]] const Device dev = op_device(op, {{"x", x}});
  require_f32(op, "x", x);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    cuda::DeviceFlag bad(0);
    cuda::check_launch(
        cuda::launch_nonfinite_flag(reinterpret_cast<unsigned*>(bad.get()), x.data<float>(),
                                    x.numel(), cuda::current_stream()),
        op);
    return bad.read() == 0;
  }
#endif
  return cpu::all_finite(x);
}

void gather_rows(Tensor& out, const Tensor& src, const Tensor& index) {
  constexpr const char* op = "gather_rows";
  [[maybe_unused]] const Device dev = op_device(op, {{"out", out}, {"src", src}, {"index", index}});
  require_float_storage(op, "out", out);
  require_float_storage(op, "src", src);
  check_rows(op, out, src, index);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    cuda::DeviceFlag bad(INT_MAX);
    cuda::check_launch(
        cuda::launch_gather_rows(cuda::float_out(out), cuda::float_in(src), index.data<std::int32_t>(),
                                 out.size(0), out.size(1), src.size(0), bad.get(),
                                 cuda::current_stream()),
        op);
    return report_bad_index(op, bad, index, src.size(0));
  }
#endif
  cpu::gather_rows(out, src, index);
}

void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index) {
  constexpr const char* op = "scatter_add_rows";
  [[maybe_unused]] const Device dev = op_device(op, {{"dst", dst}, {"src", src}, {"index", index}});
  require_float_storage(op, "dst", dst);
  require_float_storage(op, "src", src);
  check_rows(op, src, dst, index);
#ifdef GLM_WITH_CUDA
  if (dev.is_cuda()) {
    const std::int64_t R = src.size(0);
    GLM_CHECK(R < INT32_MAX, "{}: {} rows exceed the int32 row index", op, R);
    const auto bytes = static_cast<std::int64_t>(cuda::scatter_add_rows_workspace_bytes(R));
    Tensor workspace = Tensor::empty({std::max<std::int64_t>(bytes, 1)}, DType::u8, dev);
    cuda::DeviceFlag bad(INT_MAX);
    cuda::check_launch(cuda::launch_scatter_add_rows(
                           cuda::float_out(dst), cuda::float_in(src), index.data<std::int32_t>(), R,
                           src.size(1), dst.size(0), workspace.raw(),
                           static_cast<std::size_t>(bytes), bad.get(), cuda::current_stream()),
                       op);
    return report_bad_index(op, bad, index, dst.size(0));
  }
#endif
  cpu::scatter_add_rows(dst, src, index);
}

}  // namespace glm::kernels
