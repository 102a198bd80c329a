#include "core/fsync.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace glm {
namespace {

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw SystemError(fmt::format("{}: cannot open for fsync: {}", path, std::strerror(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw SystemError(fmt::format("{}: fsync failed: {}", path, std::strerror(err)));
}

}  // namespace

void fsync_file(const std::string& path) { fsync_path(path, false); }
void fsync_dir(const std::string& path) { fsync_path(path, true); }

std::string write_failure_reason(const std::string& path, int err) {
  if (err != 0) return std::strerror(err);
  std::filesystem::path p(path);
  while (!p.empty() && !std::filesystem::exists(p)) p = p.parent_path();
  struct statvfs fs {};
  if (statvfs(p.empty() ? "." : p.c_str(), &fs) == 0 && fs.f_bavail == 0)
    return std::strerror(ENOSPC);
  return "I/O error";
}

}  // namespace glm
