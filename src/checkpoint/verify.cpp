// Verification of a checkpoint directory (checkpoint/checkpoint.h): files present with their
// recorded size and SHA-256, pieces as recorded, every tensor covered exactly once.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/h5_tensors.h"
#include "core/progress.h"
#include "core/sha256.h"

namespace glm::checkpoint {
namespace fs = std::filesystem;

void verify_checkpoint_file(const std::string& dir, const CheckpointFile& f) {
  const fs::path path = fs::path(dir) / f.name;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError(
        fmt::format("{}: missing (meta.json lists it as rank {}'s file)", path.string(), f.rank));
  const auto bytes = static_cast<std::int64_t>(fs::file_size(path, ec));
  if (ec || bytes != f.bytes)
    throw InputError(fmt::format("{}: {} bytes, meta.json records {} for rank {}'s file "
                                 "(truncated or replaced)",
                                 path.string(), bytes, f.bytes, f.rank));
  const std::string sha = sha256_file_hex(path.string());
  if (sha != f.sha256)
    throw InputError(fmt::format("{}: SHA-256 {} does not match meta.json's {} for rank {}'s "
                                 "file (corrupt file)",
                                 path.string(), sha, f.sha256, f.rank));
}

void verify_checkpoint_files(const std::string& dir, const CheckpointMeta& meta) {
  std::int64_t total_bytes = 0;
  for (const auto& f : meta.files) total_bytes += f.bytes;
  Progress progress(fmt::format("{}: checksums, bytes", dir), total_bytes);
  for (const auto& f : meta.files) {
    verify_checkpoint_file(dir, f);
    progress.advance(f.bytes);
  }
}

void verify_checkpoint_pieces(const std::string& dir, const CheckpointMeta& meta) {
  const std::string meta_path = (fs::path(dir) / kMetaFile).string();
  std::map<std::string, Shape> global;  // name -> global shape
  for (const auto& t : meta.tensors)
    if (!global.emplace(t.name, t.global_shape).second)
      throw InputError(fmt::format("{}: tensor '{}' listed twice", meta_path, t.name));
  std::map<std::string, std::int64_t> covered;  // elements held per tensor

  for (const auto& f : meta.files) {
    H5File h5((fs::path(dir) / f.name).string(), H5File::Mode::read);
    if (h5.attr("format") != kCheckpointFormat ||
        h5.attr("version") != std::to_string(kCheckpointVersion))
      throw InputError(fmt::format("{}: not a version-{} {} rank file", h5.path(),
                                   kCheckpointVersion, kCheckpointFormat));
    if (h5.attr("step") != std::to_string(meta.step) || h5.attr("rank") != std::to_string(f.rank))
      throw InputError(
          fmt::format("{}: written for step {} rank {}, meta.json says step {} rank {}", h5.path(),
                      h5.attr("step"), h5.attr("rank"), meta.step, f.rank));
    for (const auto& p : f.pieces) {
      auto g = global.find(p.name);
      if (g == global.end())
        throw InputError(fmt::format("{}: piece '{}' of {} is not among its tensors", meta_path,
                                     p.name, f.name));
      if (g->second != p.global_shape || p.offset.size() != p.global_shape.size() ||
          p.shape.size() != p.global_shape.size())
        throw InputError(
            fmt::format("{}: piece '{}' of {} disagrees with the tensor's global shape {}",
                        meta_path, p.name, f.name, shape_str(g->second)));
      for (std::size_t d = 0; d < p.shape.size(); ++d)
        if (p.offset[d] + p.shape[d] > p.global_shape[d])
          throw InputError(fmt::format("{}: piece '{}' of {} (offset {}, shape {}) lies outside {}",
                                       meta_path, p.name, f.name, shape_str(p.offset),
                                       shape_str(p.shape), shape_str(p.global_shape)));
      // The rank file's own record of the piece must agree with meta.json.
      const std::pair<const char*, Shape> attrs[] = {{"global_shape", p.global_shape},
                                                     {"offset", p.offset},
                                                     {"shape", p.shape},
                                                     {"flat_range", {p.flat_begin, p.flat_end}}};
      for (const auto& [name, want] : attrs)
        if (h5.int_attr(p.name, name) != want)
          throw InputError(fmt::format("{}: '{}' attribute {} is {}, meta.json says {}", h5.path(),
                                       p.name, name, shape_str(h5.int_attr(p.name, name)),
                                       shape_str(want)));
      const Shape stored = p.whole_block() ? p.shape : Shape{p.flat_end - p.flat_begin};
      for (const char* ds : kPieceDatasets) {
        Tensor t = h5.read(p.name + "/" + ds);
        if (t.dtype() != DType::f32 || t.shape() != stored)
          throw InputError(fmt::format("{}: dataset '{}/{}' is {}, expected f32{}", h5.path(),
                                       p.name, ds, t.describe(), shape_str(stored)));
      }
      covered[p.name] += p.flat_end - p.flat_begin;
    }
  }
  // Completeness: the pieces of each tensor add up to it (pieces never overlap in a layout,
  // so a count per tensor finds a missing or a doubled piece).
  for (const auto& [name, shape] : global)
    if (covered[name] != shape_numel(shape))
      throw InputError(fmt::format("{}: tensor '{}' {}: the rank files hold {} of its {} elements",
                                   meta_path, name, shape_str(shape), covered[name],
                                   shape_numel(shape)));
}

}  // namespace glm::checkpoint
