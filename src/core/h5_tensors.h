// Named tensors in HDF5 files: the exchange format of the reference tests and the base
// of checkpoints and datasets. Paths are HDF5 paths ("params/embedding.weight"); parent
// groups are created on demand. Every failure names the file and the dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace glm {

class H5File {
 public:
  enum class Mode { read, create };  // create truncates an existing file
  H5File(const std::string& path, Mode mode);
  ~H5File();  // closes the file if close() was not called (errors are then lost)
  // Flushes and closes the file; SystemError naming the path and the reason if the data
  // did not reach the file (a full disk). A file written for keeps calls it.
  void close();
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  // f32, i32, u8 and f16 tensors (f16 stored as HDF5 16-bit IEEE float), any shape.
  void write(const std::string& name, const Tensor& t);
  Tensor read(const std::string& name) const;  // a new host tensor
  // Rows [begin, begin + count) of the dataset's first dimension, reading only those bytes
  // (a vocabulary shard of an embedding); InputError naming the rows outside the dataset.
  Tensor read_rows(const std::string& name, std::int64_t begin, std::int64_t count) const;
  bool has(const std::string& name) const;
  std::vector<std::string> list(const std::string& group) const;  // dataset names in a group

  // String attributes on the root group.
  void set_attr(const std::string& name, const std::string& value);
  std::string attr(const std::string& name) const;
  // Integer-array attributes on a dataset or group (checkpoint pieces: global_shape, offset).
  void set_int_attr(const std::string& object, const std::string& name,
                    const std::vector<std::int64_t>& values);
  std::vector<std::int64_t> int_attr(const std::string& object, const std::string& name) const;

  const std::string& path() const { return path_; }

 private:
  Tensor read_impl(const std::string& name, std::int64_t begin, std::int64_t count) const;

  long long file_ = -1;  // hid_t
  std::string path_;
};

}  // namespace glm
