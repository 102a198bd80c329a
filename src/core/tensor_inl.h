// Inline part of tensor.h: typed data access.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/error.h"

namespace glm {
namespace detail {
template <class T>
constexpr bool dtype_matches(DType t) {
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, float>) return t == DType::f32;
  if constexpr (std::is_same_v<U, std::int32_t>) return t == DType::i32;
  if constexpr (std::is_same_v<U, std::uint16_t>) return t == DType::f16 || t == DType::bf16;
  if constexpr (std::is_same_v<U, std::int8_t>) return t == DType::i8;
  if constexpr (std::is_same_v<U, std::uint8_t>) return t == DType::u8 || t == DType::i4;
  return false;
}
}  // namespace detail

template <class T>
T* Tensor::data() const {
  GLM_CHECK(detail::dtype_matches<T>(dtype_), "data<T>() on a {} tensor", dtype_name(dtype_));
  return static_cast<T*>(base_);
}

}  // namespace glm
