#include "train/tensorboard/tfrecord_writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/crc32c.h"
#include "core/error.h"

namespace glm::tensorboard {
namespace {

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint32_t masked_crc(std::string_view s) {
  return crc32c_masked(std::as_bytes(std::span(s.data(), s.size())));
}

}  // namespace

std::string frame_tfrecord(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  put_le(out, payload.size(), 8);
  put_le(out, masked_crc(std::string_view(out.data(), 8)), 4);
  out.append(payload);
  put_le(out, masked_crc(payload), 4);
  return out;
}

TfRecordWriter::TfRecordWriter(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw InputError(fmt::format("{}: cannot create event file: {}", path_, std::strerror(errno)));
}

TfRecordWriter::~TfRecordWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void TfRecordWriter::append(std::string_view payload) {
  const std::string record = frame_tfrecord(payload);
  std::size_t done = 0;
  while (done < record.size()) {
    ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
}

void TfRecordWriter::sync() {
  if (::fdatasync(fd_) != 0)
    throw Error(fmt::format("{}: fdatasync failed: {}", path_, std::strerror(errno)));
}

}  // namespace glm::tensorboard
