#include "core/tensor.h"


#include "core/allocator.h"
#include "core/device_copy.h"

namespace glm {

struct Tensor::Storage {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  Device device;
  MemoryKind kind;  // what the bytes count as (core/allocator.h)
  Storage(std::size_t n, Device dev) : bytes(n), device(dev), kind(current_memory_kind()) {
    ptr = device_alloc(dev, n, kind);
  }
  ~Storage() { device_free(device, ptr, bytes, kind); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

static Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  std::int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

static void check_shape(const Shape& s) {
  for (auto d : s) GLM_CHECK(d >= 0, "negative dimension in shape {}", shape_str(s));
}

Tensor Tensor::empty(Shape shape, DType dtype, Device dev) {
  check_shape(shape);
  Tensor t;
  t.storage_ = std::make_shared<Storage>(dtype_bytes(dtype, shape_numel(shape)), dev);
  t.base_ = t.storage_->ptr;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = dev;
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device dev) {
  Tensor t = empty(std::move(shape), dtype, dev);
  t.zero_();
  return t;
}

Tensor Tensor::wrap(void* data, Shape shape, DType dtype, Device dev) {
  check_shape(shape);
  Tensor t;
  t.base_ = data;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = dev;
  return t;
}

std::int64_t Tensor::size(int d) const {
  if (d < 0) d += dim();
  GLM_CHECK(d >= 0 && d < dim(), "dimension {} of a {}-d tensor", d, dim());
  return shape_[d];
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

Tensor Tensor::view(Shape shape) const {
  GLM_CHECK(is_contiguous(), "view() of a non-contiguous tensor {}", describe());
  GLM_CHECK(shape_numel(shape) == numel(), "view {} of {}", shape_str(shape), describe());
  Tensor t = *this;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int d, std::int64_t begin, std::int64_t end) const {
  if (d < 0) d += dim();
  GLM_CHECK(d >= 0 && d < dim(), "slice dim {} of {}", d, describe());
  GLM_CHECK(0 <= begin && begin <= end && end <= shape_[d], "slice [{}, {}) of dim {} of {}",
            begin, end, d, describe());
  GLM_CHECK(dtype_ != DType::i4, "slicing packed int4 tensors is not supported");
  Tensor t = *this;
  t.base_ = static_cast<char*>(base_) + dtype_bytes(dtype_, begin * strides_[d]);
  t.shape_[d] = end - begin;
  return t;
}

Tensor Tensor::select(std::int64_t i) const {
  Tensor t = slice(0, i, i + 1);
  t.shape_.erase(t.shape_.begin());
  t.strides_.erase(t.strides_.begin());
  return t;
}

void Tensor::zero_() {
  GLM_CHECK(is_contiguous(), "zero_() of a non-contiguous tensor {}", describe());
  zero_bytes(base_, device_, nbytes());
}

void Tensor::copy_from(const Tensor& src) {
  GLM_CHECK(shape_ == src.shape_ && dtype_ == src.dtype_, "copy {} into {}", src.describe(),
            describe());
  GLM_CHECK(is_contiguous() && src.is_contiguous(), "copy of non-contiguous tensors");
  copy_bytes(base_, device_, src.base_, src.device_, nbytes());
}

Tensor Tensor::to(Device dev) const {
  Tensor t = empty(shape_, dtype_, dev);
  t.copy_from(*this);
  return t;
}

std::string Tensor::describe() const {
  return fmt::format("{}{} {}", dtype_name(dtype_), shape_str(shape_), device_name(device_));
}

}  // namespace glm
