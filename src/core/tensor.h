// Tensor: a typed, shaped, strided window onto memory on one device.
//
// A Tensor either owns its storage (Tensor::empty / zeros; freed when the last Tensor that
// shares it goes away) or is a view: of another Tensor (view, slice, select) or of memory
// someone else owns (Tensor::wrap, e.g. one parameter inside the flat parameter buffer).
// Copying a Tensor is cheap and shares the storage. Kernels take Tensors and read their
// shapes; they index raw memory through data<T>().
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace glm {

using Shape = std::vector<std::int64_t>;

std::string shape_str(const Shape& s);
std::int64_t shape_numel(const Shape& s);

class Tensor {
 public:
  Tensor() = default;

  // Owning constructors.
  static Tensor empty(Shape shape, DType dtype, Device dev = Device::cpu());
  static Tensor zeros(Shape shape, DType dtype, Device dev = Device::cpu());
  // Non-owning view of external memory (contiguous); the caller keeps it alive.
  static Tensor wrap(void* data, Shape shape, DType dtype, Device dev = Device::cpu());

  // Shape and layout.
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  int dim() const { return static_cast<int>(shape_.size()); }
  std::int64_t size(int d) const;  // negative d counts from the end
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return dtype_bytes(dtype_, static_cast<std::size_t>(numel())); }
  bool is_contiguous() const;
  bool defined() const { return base_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool owns_storage() const { return storage_ != nullptr; }

  // Element access; data<T>() checks that T matches the dtype (uint16_t for f16/bf16).
  template <class T>
  T* data() const;
  void* raw() const { return base_; }

  // Views sharing storage.
  Tensor view(Shape shape) const;                                   // contiguous reshape
  Tensor slice(int d, std::int64_t begin, std::int64_t end) const;  // [begin, end) along d
  Tensor select(std::int64_t i) const;                              // index along dim 0

  // Whole-tensor operations (contiguous tensors).
  void zero_();
  void copy_from(const Tensor& src);  // same shape and dtype, any devices
  Tensor to(Device dev) const;
  Tensor clone() const { return to(device_); }

  std::string describe() const;  // "f32[2, 3] cpu"

 private:
  struct Storage;
  std::shared_ptr<Storage> storage_;  // null for a view of external memory
  void* base_ = nullptr;
  Shape shape_, strides_;
  DType dtype_ = DType::f32;
  Device device_;
};

namespace detail {
template <class T>
constexpr bool dtype_matches(DType t);
}

}  // namespace glm

#include "core/tensor_inl.h"
