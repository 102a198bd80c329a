#include "kernels/cuda/cuda_elementwise.h"

#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_flag.h"
#include "kernels/cuda/elementwise_launch.h"

namespace glm::kernels::cuda {
namespace {

void check_same(const char* op, const char* name, const Tensor& t, const Tensor& y) {
  require_f32(op, name, t);
  require_shape(op, name, t, y.shape());
}

void check_rows(const char* op, const Tensor& rows, const Tensor& table, const Tensor& index) {
  require_i32(op, "index", index);
  GLM_CHECK(rows.dim() == 2 && table.dim() == 2 && rows.size(1) == table.size(1) &&
                rows.size(0) == index.numel(),
            "{}: rows {} / table {} / index {} do not match", op, shape_str(rows.shape()),
            shape_str(table.shape()), shape_str(index.shape()));
}

void report_bad_index(const char* op, DeviceFlag& bad, const Tensor& index, std::int64_t n) {
  const std::int32_t r = bad.read();
  GLM_CHECK(r == INT_MAX, "{}: index {} at row {} outside [0, {})", op,
            read_i32(index, r), r, n);
}

}  // namespace

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b) {
  constexpr const char* op = "cuda::scaled_add";
  require_f32(op, "y", y);
  check_same(op, "a", a, y);
  check_same(op, "b", b, y);
  check_launch(launch_scaled_add(y.data<float>(), alpha, a.data<float>(), b.data<float>(),
                                 y.numel(), current_stream()),
               op);
}

void axpy(Tensor& y, float alpha, const Tensor& x) {
  constexpr const char* op = "cuda::axpy";
  require_f32(op, "y", y);
  check_same(op, "x", x, y);
  check_launch(launch_axpy(y.data<float>(), alpha, x.data<float>(), y.numel(), current_stream()),
               op);
}

void scale(Tensor& y, float alpha) {
  require_f32("cuda::scale", "y", y);
  check_launch(launch_scale(y.data<float>(), alpha, y.numel(), current_stream()), "cuda::scale");
}

double sum_squares(const Tensor& x) {
  constexpr const char* op = "cuda::sum_squares";
  require_f32(op, "x", x);
  // fp64 work space (as raw bytes of an f32 tensor): [0] the result, [1..] the partials.
  Tensor work = Tensor::empty({2 * (kSumSquaresBlocks + 1)}, DType::f32, x.device());
  auto* w = static_cast<double*>(work.raw());
  check_launch(launch_sum_squares(w, w + 1, x.data<float>(), x.numel(), current_stream()), op);
  double s = 0;
  check(cudaMemcpyAsync(&s, w, sizeof(s), cudaMemcpyDeviceToHost, current_stream()), op);
  check(cudaStreamSynchronize(current_stream()), op);
  return s;
}

bool all_finite(const Tensor& x) {
  constexpr const char* op = "cuda::all_finite";
  require_f32(op, "x", x);
  DeviceFlag bad(0);
  check_launch(launch_nonfinite_flag(reinterpret_cast<unsigned*>(bad.get()), x.data<float>(),
                                     x.numel(), current_stream()),
               op);
  return bad.read() == 0;
}

void gather_rows(Tensor& out, const Tensor& src, const Tensor& index) {
  constexpr const char* op = "cuda::gather_rows";
  require_f32(op, "out", out);
  require_f32(op, "src", src);
  check_rows(op, out, src, index);
  DeviceFlag bad(INT_MAX);
  check_launch(launch_gather_rows(out.data<float>(), src.data<float>(),
                                  index.data<std::int32_t>(), out.size(0), out.size(1),
                                  src.size(0), bad.get(), current_stream()),
               op);
  report_bad_index(op, bad, index, src.size(0));
}

void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index) {
  constexpr const char* op = "cuda::scatter_add_rows";
  require_f32(op, "dst", dst);
  require_f32(op, "src", src);
  check_rows(op, src, dst, index);
  DeviceFlag bad(INT_MAX);
  check_launch(launch_scatter_add_rows(dst.data<float>(), src.data<float>(),
                                       index.data<std::int32_t>(), src.size(0), src.size(1),
                                       dst.size(0), bad.get(), current_stream()),
               op);
  report_bad_index(op, bad, index, dst.size(0));
}

}  // namespace glm::kernels::cuda
