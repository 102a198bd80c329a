#include "train/tensorboard/event_encoding.h"

#include <cmath>
#include <cstring>

namespace glm::tensorboard {
namespace {

// Wire types (protobuf encoding spec).
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
constexpr int kDtString = 7;  // TensorFlow's DataType DT_STRING (types.proto)

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | wire_type);
}

void put_fixed(std::string& out, std::uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

void put_bytes(std::string& out, int field, const std::string& s) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, s.size());
  out += s;
}

// proto3: a singular scalar equal to its default is not written (a oneof member always is).
void put_wall_time_and_step(std::string& out, double wall_time, std::int64_t step) {
  if (wall_time != 0 || std::signbit(wall_time)) {
    std::uint64_t bits;
    std::memcpy(&bits, &wall_time, 8);
    put_key(out, 1, kFixed64);  // Event.wall_time
    put_fixed(out, bits, 8);
  }
  if (step != 0) {
    put_key(out, 2, kVarint);  // Event.step (int64: negative values take ten bytes)
    put_varint(out, static_cast<std::uint64_t>(step));
  }
}

}  // namespace

std::string encode_file_version_event(double wall_time, const std::string& version) {
  std::string out;
  put_wall_time_and_step(out, wall_time, 0);
  put_bytes(out, 3, version);  // Event.file_version (oneof what)
  return out;
}

std::string encode_scalar_event(double wall_time, std::int64_t step,
                                const std::vector<std::pair<std::string, double>>& values) {
  std::string summary;
  for (const auto& [tag, value] : values) {
    std::string v;
    if (!tag.empty()) put_bytes(v, 1, tag);  // Summary.Value.tag
    const float f = static_cast<float>(value);
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_key(v, 2, kFixed32);  // Summary.Value.simple_value (oneof value)
    put_fixed(v, bits, 4);
    put_bytes(summary, 1, v);  // Summary.value
  }
  std::string out;
  put_wall_time_and_step(out, wall_time, step);
  put_bytes(out, 5, summary);  // Event.summary (oneof what)
  return out;
}

std::string encode_text_event(double wall_time, std::int64_t step, const std::string& tag,
                              const std::string& text) {
  std::string tensor;
  put_key(tensor, 1, kVarint);  // TensorProto.dtype
  put_varint(tensor, kDtString);
  put_bytes(tensor, 2, "");    // TensorProto.tensor_shape: present, no dims (a scalar)
  put_bytes(tensor, 8, text);  // TensorProto.string_val
  std::string plugin, metadata;
  put_bytes(plugin, 1, "text");    // PluginData.plugin_name
  put_bytes(metadata, 1, plugin);  // SummaryMetadata.plugin_data
  std::string v;
  if (!tag.empty()) put_bytes(v, 1, tag);  // Summary.Value.tag
  put_bytes(v, 8, tensor);                 // Summary.Value.tensor (oneof value)
  put_bytes(v, 9, metadata);               // Summary.Value.metadata
  std::string summary;
  put_bytes(summary, 1, v);
  std::string out;
  put_wall_time_and_step(out, wall_time, step);
  put_bytes(out, 5, summary);
  return out;
}

}  // namespace glm::tensorboard
