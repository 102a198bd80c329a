// A small safetensors writer (https://github.com/huggingface/safetensors, format only):
//   8 bytes   little-endian u64 N, the header length
//   N bytes   JSON: {"__metadata__": {str: str}, "<name>": {"dtype": "F16"|"F32"|"I8"|"U8",
//             "shape": [...], "data_offsets": [begin, end]}, ...}, padded with spaces to a
//             multiple of 8
//   the tensors' bytes back to back (offsets relative to the end of the header)
// INT4 weights are stored as U8 [out, in/2] (packed, low nibble first); __metadata__ says so.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace glm::infer {

// A tensor of the file, described before its bytes are asked for (the header comes first).
struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
};

// Writes atomically (temporary file, fsync, rename): the header from `entries`, then each
// entry's bytes from tensor(i), asked for one at a time in order (a host tensor of the
// entry's dtype and shape; one is held at once). Returns the file size.
std::int64_t write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                               const std::function<Tensor(std::size_t i)>& tensor,
                               const std::map<std::string, std::string>& metadata);

}  // namespace glm::infer
