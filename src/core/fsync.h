// Durability on POSIX file systems: fsync a file or a directory by path, so that a write or
// a rename inside the directory survives a crash. Used by atomic file replacement
// (core/atomic_file.h) and by checkpoint saving (checkpoint/checkpoint.h).
//
//   glm::fsync_file("out/train.h5.tmp");   // the file's bytes reach the disk
//   glm::fsync_dir("out");                 // renames and new names in out/ reach the disk
#pragma once

#include <string>

namespace glm {

// Each throws glm::SystemError naming the path and the reason when it cannot be opened or
// fsync fails.
void fsync_file(const std::string& path);
void fsync_dir(const std::string& path);

// Why a write under `path` failed, for messages: strerror(err) when err is set ("No space
// left on device"); else, when the file system holding `path` has no free blocks, that;
// else "I/O error". HDF5 reports a failed write without its errno, hence the second look.
std::string write_failure_reason(const std::string& path, int err);

}  // namespace glm
