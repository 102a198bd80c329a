// Atomic file replacement: a file is written under a temporary name next to its final
// path, fsynced, renamed over the final path, and the directory fsynced. A crash at any
// moment leaves either the old file or the complete new one, never a partial file.
//
//   AtomicFile f("out/train.h5");
//   write_hdf5(f.temp_path());   // anything that creates and closes the file
//   f.commit();                  // fsync + rename + fsync(dir); the destructor of an
//                                // uncommitted AtomicFile removes the temporary
#pragma once

#include <string>
#include <string_view>

namespace glm {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }
  void commit();  // throws glm::Error naming the file if any step fails

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

// Writes bytes to path atomically (the whole file or nothing).
void write_file_atomically(const std::string& path, std::string_view bytes);

// Reads a whole file; InputError naming it when missing or unreadable.
std::string read_file_bytes(const std::string& path);

}  // namespace glm
