// TFRecord framing, the container of TensorBoard event files. Each record is
//   uint64 length | uint32 masked_crc32c(length bytes) | payload | uint32 masked_crc32c(payload)
// all little-endian. TfRecordWriter appends records to a file with one write(2) per record
// and no user-space buffer: a record is in the kernel's page cache (visible to readers,
// kept if the process is killed) as soon as append() returns, and a kill mid-record leaves
// at worst a truncated last record, which readers drop.
#pragma once

#include <string>
#include <string_view>

namespace glm::tensorboard {

// The framed bytes of one record.
std::string frame_tfrecord(std::string_view payload);

class TfRecordWriter {
 public:
  // Creates `path`, which must not exist yet (an existing file is never overwritten).
  explicit TfRecordWriter(std::string path);
  ~TfRecordWriter();
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  void append(std::string_view payload);
  // Asks the kernel to put the records on disk (fdatasync), for a machine that may lose power.
  void sync();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace glm::tensorboard
