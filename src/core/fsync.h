// Durability on POSIX file systems: fsync a file or a directory by path, so that a write or
// a rename inside the directory survives a crash. Used by atomic file replacement
// (data/atomic_file.h) and by checkpoint saving (checkpoint/checkpoint.h).
//
//   glm::fsync_file("out/train.h5.tmp");   // the file's bytes reach the disk
//   glm::fsync_dir("out");                 // renames and new names in out/ reach the disk
#pragma once

#include <string>

namespace glm {

// Each throws glm::Error naming the path when it cannot be opened or fsync fails.
void fsync_file(const std::string& path);
void fsync_dir(const std::string& path);

}  // namespace glm
