#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fsync.h"

namespace glm {
namespace fs = std::filesystem;

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_ = fmt::format("{}.tmp.{}", path_, ::getpid());
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());  // nothing to do if it was never created
}

void AtomicFile::commit() {
  fsync_file(temp_);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    throw Error(
        fmt::format("{}: cannot rename {} over it: {}", path_, temp_, std::strerror(errno)));
  committed_ = true;
  fs::path dir = fs::path(path_).parent_path();
  fsync_dir(dir.empty() ? std::string(".") : dir.string());
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot create {}", path, file.temp_path()));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw Error(fmt::format("{}: write failed", file.temp_path()));
  }
  file.commit();
}

std::string read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError(fmt::format("{}: no such file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: read error", path));
  return std::move(ss).str();
}

}  // namespace glm
