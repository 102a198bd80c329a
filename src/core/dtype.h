// Element types and devices a Tensor can have.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace glm {

// i4 is packed two per byte, low nibble first (docs/design.md section 8).
enum class DType : std::uint8_t { f32, f16, bf16, i32, i8, u8, i4 };

// Bytes needed for n elements of this type (i4 rounds up to whole bytes).
std::size_t dtype_bytes(DType t, std::size_t n);
std::string_view dtype_name(DType t);

enum class DeviceKind : std::uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }
  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }
  bool operator==(const Device&) const = default;
};

std::string device_name(Device d);  // "cpu", "cuda:0"

}  // namespace glm
