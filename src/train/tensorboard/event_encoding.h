// The protobuf wire bytes of the Event records an event file holds (event.proto), encoded by
// hand. Why not libprotobuf's generated code: Debian's libsentencepiece.so carries and exports
// its own protobuf-lite 3.14, and every glm program links it, so the system libprotobuf-lite
// 3.21 in the same process has its symbols resolved against the other copy and aborts at
// start-up (version check). The messages are small and fixed; these encoders write them
// field by field in field-number order, exactly as libprotobuf serializes them, which
// tests/tensorboard/test_event_encoding.cpp checks byte for byte against protoc's code for
// event.proto in a test binary that does not link SentencePiece.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace glm::tensorboard {

// Event{wall_time, file_version}: the first record of every event file.
std::string encode_file_version_event(double wall_time, const std::string& version);
// Event{wall_time, step, summary{value[i]{tag, simple_value}}}: values stored as float.
std::string encode_scalar_event(double wall_time, std::int64_t step,
                                const std::vector<std::pair<std::string, double>>& values);
// Event{wall_time, step, summary{value{tag, tensor{DT_STRING, shape {}, string_val},
// metadata{plugin_data{plugin_name: "text"}}}}}: what TensorBoard's text plugin reads.
std::string encode_text_event(double wall_time, std::int64_t step, const std::string& tag,
                              const std::string& text);

}  // namespace glm::tensorboard
