#include "core/dtype.h"

namespace glm {

std::size_t dtype_bytes(DType t, std::size_t n) {
  switch (t) {
    case DType::f32:
    case DType::i32:
      return 4 * n;
    case DType::f16:
    case DType::bf16:
      return 2 * n;
    case DType::i8:
    case DType::u8:
      return n;
    case DType::i4:
      return (n + 1) / 2;
  }
  return 0;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i4: return "i4";
  }
  return "?";
}

std::string device_name(Device d) {
  return d.is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(d.index);
}

}  // namespace glm
