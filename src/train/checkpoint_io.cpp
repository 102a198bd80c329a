// Saving and loading checkpoints (train/checkpoint.h): the atomic directory protocol, the
// rank file writer and the tensor loader.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/fsync.h"
#include "core/h5_tensors.h"
#include "core/sha256.h"
#include "data/atomic_file.h"
#include "optim/param_range.h"
#include "train/checkpoint.h"

namespace glm::train {
namespace fs = std::filesystem;

namespace {

// The test hook of checkpoint.h: dies like `kill -9` at the named point of a save.
void maybe_crash(std::string_view point) {
  const char* hook = std::getenv("GLM_TEST_CRASH_IN_SAVE");
  if (hook && point == hook) {
    spdlog::warn("GLM_TEST_CRASH_IN_SAVE={}: exiting as if killed", point);
    ::_exit(137);
  }
}

// The pieces this rank holds: today whole parameters (spec's local block, all of it).
std::vector<TensorPiece> pieces_of(const model::ParamLayout& layout) {
  std::vector<TensorPiece> pieces;
  for (const auto& s : layout.specs())
    pieces.push_back({s.name, s.global_shape, s.global_offset, s.shape, 0, s.numel()});
  return pieces;
}

// The piece of one parameter inside a flat [layout.total()] tensor, shaped as its block.
Tensor piece_view(const Tensor& flat, const model::ParamSpec& spec) {
  return flat.slice(0, spec.offset, spec.offset + spec.numel()).view(spec.shape);
}

void write_rank_file(const std::string& path, int rank, std::int64_t step,
                     const OptimizerTensors& t) {
  H5File f(path, H5File::Mode::create);
  f.set_attr("format", kCheckpointFormat);
  f.set_attr("version", std::to_string(kCheckpointVersion));
  f.set_attr("rank", std::to_string(rank));
  f.set_attr("step", std::to_string(step));
  const Tensor* sources[] = {&t.master, &t.exp_avg, &t.exp_avg_sq};
  for (const auto& spec : t.layout->specs()) {
    for (int k = 0; k < 3; ++k)
      f.write(spec.name + "/" + kPieceDatasets[k], piece_view(*sources[k], spec));
    f.set_int_attr(spec.name, "global_shape", spec.global_shape);
    f.set_int_attr(spec.name, "offset", spec.global_offset);
    f.set_int_attr(spec.name, "shape", spec.shape);
    f.set_int_attr(spec.name, "flat_range", {0, spec.numel()});
  }
}

void remove_dir(const fs::path& dir, const char* why) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) spdlog::warn("{}: cannot remove ({}): {}", dir.string(), why, ec.message());
}

// Removes iter_*.tmp / iter_*.old left behind by a save that died.
void remove_stale(const fs::path& root) {
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("iter_", 0) == 0 && e.is_directory() &&
        (name.ends_with(".tmp") || name.ends_with(".old"))) {
      spdlog::warn("{}: removing an incomplete checkpoint left by an interrupted save",
                   e.path().string());
      remove_dir(e.path(), "stale");
    }
  }
}

// Keeps the newest keep_last iter_XXXXXXXX directories (and always `keep`).
std::vector<std::string> prune(const fs::path& root, int keep_last, std::int64_t keep) {
  std::vector<std::string> removed;
  if (keep_last <= 0) return removed;
  std::vector<std::int64_t> steps;
  for (const auto& e : fs::directory_iterator(root)) {
    std::int64_t s = parse_iter_dir_name(e.path().filename().string());
    if (s >= 0 && e.is_directory()) steps.push_back(s);
  }
  std::sort(steps.rbegin(), steps.rend());
  for (std::size_t i = static_cast<std::size_t>(keep_last); i < steps.size(); ++i) {
    if (steps[i] == keep) continue;
    fs::path dir = root / iter_dir_name(steps[i]);
    remove_dir(dir, "keep_last");
    removed.push_back(dir.string());
  }
  return removed;
}

std::int64_t parse_latest(const std::string& path) {
  std::string text = data::read_file_bytes(path);
  std::size_t end = text.find_last_not_of(" \n\r\t");
  text = end == std::string::npos ? "" : text.substr(0, end + 1);
  std::int64_t step = -1;
  if (!text.empty() && text.size() < 19 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    step = std::stoll(text);
  if (step < 0)
    throw InputError(fmt::format("{}: expected the step of the newest checkpoint, got '{}'", path,
                                 text.substr(0, 40)));
  return step;
}

}  // namespace

SaveResult save_checkpoint(const std::string& save_root, CheckpointMeta meta,
                           const OptimizerTensors& tensors, int keep_last) {
  const auto t0 = std::chrono::steady_clock::now();
  GLM_CHECK(tensors.layout != nullptr, "save_checkpoint: no layout");
  const fs::path root(save_root);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    throw InputError(
        fmt::format("{}: cannot create the save directory: {}", save_root, ec.message()));
  remove_stale(root);

  const fs::path final_dir = root / iter_dir_name(meta.step);
  const fs::path tmp = root / (iter_dir_name(meta.step) + ".tmp");
  fs::create_directories(tmp);

  // Rank files first (one per rank; this process is rank 0 of a world of one).
  const int rank = 0;
  const fs::path rank_path = tmp / rank_file_name(rank);
  write_rank_file(rank_path.string(), rank, meta.step, tensors);
  fsync_file(rank_path.string());
  maybe_crash("after_files");

  meta.tensors.clear();
  for (const auto& s : tensors.layout->specs()) meta.tensors.push_back({s.name, s.global_shape});
  meta.files = {{rank_file_name(rank), rank, static_cast<std::int64_t>(fs::file_size(rank_path)),
                 sha256_file_hex(rank_path.string()), pieces_of(*tensors.layout)}};
  const fs::path meta_path = tmp / kMetaFile;
  {
    std::ofstream out(meta_path, std::ios::binary | std::ios::trunc);
    out << meta.to_json().dump(2) << '\n';
    out.close();
    if (!out) throw Error(fmt::format("{}: write failed", meta_path.string()));
  }
  fsync_file(meta_path.string());
  fsync_dir(tmp.string());

  // Publish: rename into place (an existing checkpoint of the same step is replaced), make
  // the rename durable, then point `latest` at it.
  const fs::path old = root / (iter_dir_name(meta.step) + ".old");
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(tmp, final_dir);
  fsync_dir(root.string());
  maybe_crash("before_latest");
  data::write_file_atomically((root / kLatestFile).string(), fmt::format("{}\n", meta.step));
  if (fs::exists(old)) remove_dir(old, "replaced");

  SaveResult r;
  r.dir = final_dir.string();
  r.bytes = meta.total_bytes() + static_cast<std::int64_t>(fs::file_size(final_dir / kMetaFile));
  r.pruned = prune(root, keep_last, meta.step);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string resolve_checkpoint_dir(const std::string& dir, std::optional<std::int64_t> iter) {
  const fs::path p(dir);
  std::error_code ec;
  if (!fs::is_directory(p, ec))
    throw InputError(fmt::format("{}: no such checkpoint directory", dir));
  if (iter) {
    if (parse_iter_dir_name(p.filename().string()) == *iter && fs::exists(p / kMetaFile))
      return dir;
    fs::path d = p / iter_dir_name(*iter);
    if (!fs::is_directory(d, ec))
      throw InputError(fmt::format("{}: no checkpoint of iteration {} (no {})", dir, *iter,
                                   d.filename().string()));
    return d.string();
  }
  if (fs::exists(p / kMetaFile)) return dir;  // a checkpoint directory itself
  const fs::path latest = p / kLatestFile;
  if (!fs::exists(latest))
    throw InputError(
        fmt::format("{}: neither a checkpoint ({} missing) nor a save directory "
                    "({} missing)",
                    dir, kMetaFile, kLatestFile));
  fs::path d = p / iter_dir_name(parse_latest(latest.string()));
  if (!fs::is_directory(d, ec))
    throw InputError(fmt::format("{}: points to {}, which does not exist", latest.string(),
                                 d.filename().string()));
  return d.string();
}

CheckpointMeta read_checkpoint_meta(const std::string& dir) {
  const std::string path = (fs::path(dir) / kMetaFile).string();
  std::string text = data::read_file_bytes(path);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw InputError(fmt::format("{}: not valid JSON (corrupt or truncated)", path));
  return CheckpointMeta::from_json(j, path);
}

void load_optimizer_tensors(const std::string& dir, const CheckpointMeta& meta,
                            const OptimizerTensors& out) {
  GLM_CHECK(out.layout != nullptr, "load_optimizer_tensors: no layout");
  // Where each parameter piece lives in the checkpoint: (file, piece).
  struct Found {
    const CheckpointFile* file;
    const TensorPiece* piece;
  };
  std::unordered_map<std::string, std::vector<Found>> by_name;
  for (const auto& f : meta.files)
    for (const auto& p : f.pieces) by_name[p.name].push_back({&f, &p});
  const std::string meta_path = (fs::path(dir) / kMetaFile).string();
  std::unordered_map<std::string, std::unique_ptr<H5File>> open;
  const Tensor* targets[] = {&out.master, &out.exp_avg, &out.exp_avg_sq};
  for (const auto& spec : out.layout->specs()) {
    auto it = by_name.find(spec.name);
    if (it == by_name.end())
      throw InputError(
          fmt::format("{}: no tensor '{}' (the model needs it)", meta_path, spec.name));
    const Found* match = nullptr;
    for (const auto& f : it->second)
      if (f.piece->offset == spec.global_offset && f.piece->shape == spec.shape &&
          f.piece->whole_block())
        match = &f;
    if (it->second.front().piece->global_shape != spec.global_shape)
      throw InputError(fmt::format(
          "{}: tensor '{}' has global shape {}, the model's is {}", meta_path, spec.name,
          shape_str(it->second.front().piece->global_shape), shape_str(spec.global_shape)));
    if (!match)
      throw InputError(fmt::format(
          "{}: tensor '{}' is cut differently from this layout's piece (offset {}, shape {}); "
          "re-cutting checkpoints for another layout comes with glm-ckpt reshard",
          meta_path, spec.name, shape_str(spec.global_offset), shape_str(spec.shape)));
    auto& h5 = open[match->file->name];
    if (!h5)
      h5 = std::make_unique<H5File>((fs::path(dir) / match->file->name).string(),
                                    H5File::Mode::read);
    for (int k = 0; k < 3; ++k) {
      const std::string ds = spec.name + "/" + kPieceDatasets[k];
      Tensor t = h5->read(ds);
      if (t.dtype() != DType::f32 || t.shape() != spec.shape)
        throw InputError(fmt::format("{}: dataset '{}' is {}, expected f32{}", h5->path(), ds,
                                     t.describe(), shape_str(spec.shape)));
      piece_view(*targets[k], spec).copy_from(t);
    }
  }
  std::size_t pieces = 0;
  for (const auto& f : meta.files) pieces += f.pieces.size();
  if (pieces != out.layout->specs().size())
    throw InputError(fmt::format("{}: {} tensor pieces, the model has {} parameters", meta_path,
                                 pieces, out.layout->specs().size()));
}

}  // namespace glm::train
