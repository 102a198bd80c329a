#include "kernels/cuda/device_flag.h"

namespace glm::kernels::cuda {

DeviceFlag::DeviceFlag(std::int32_t initial) {
  int dev = current_device();
  t_ = Tensor::empty({1}, DType::i32, Device::cuda(dev));
  check(cudaMemcpyAsync(t_.raw(), &initial, sizeof(initial), cudaMemcpyHostToDevice,
                        current_stream()),
        "cudaMemcpyAsync(flag)");
  // The pageable source is copied to a staging buffer before cudaMemcpyAsync returns, so
  // `initial` may go out of scope.
}

std::int32_t DeviceFlag::read() {
  std::int32_t v = 0;
  check(cudaMemcpyAsync(&v, t_.raw(), sizeof(v), cudaMemcpyDeviceToHost, current_stream()),
        "cudaMemcpyAsync(flag)");
  check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize(flag)");
  return v;
}

std::int32_t read_i32(const Tensor& t, std::int64_t i) {
  std::int32_t v = 0;
  check(cudaMemcpyAsync(&v, t.data<std::int32_t>() + i, sizeof(v), cudaMemcpyDeviceToHost,
                        current_stream()),
        "cudaMemcpyAsync(value)");
  check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize(value)");
  return v;
}

}  // namespace glm::kernels::cuda
