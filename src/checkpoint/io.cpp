// Saving and loading checkpoints (checkpoint/checkpoint.h): the atomic directory protocol, the
// rank file writer and the tensor loader.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "config/layout.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/fsync.h"
#include "core/h5_tensors.h"
#include "core/sha256.h"
#include "core/test_hold.h"
#include "modeldef/param_range.h"
#include "parallel/data_parallel.h"

namespace glm::checkpoint {
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

// The pieces a rank writes: the primary parameter pieces inside its range (copies are written
// by their primary holder), each a whole box, or the cut of one that the range holds.
std::vector<TensorPiece> pieces_of(const modeldef::ParamLayout& layout,
                                   modeldef::ElementRange range) {
  std::vector<TensorPiece> pieces;
  for (const modeldef::ParamPiece& p : modeldef::pieces_in_range(layout, range)) {
    const modeldef::ParamSpec& s = layout.specs()[static_cast<std::size_t>(p.spec_index)];
    if (s.primary)
      pieces.push_back({s.name, s.global_shape, s.global_offset, s.box_shape, p.in_param,
                        p.in_param + p.flat.size()});
  }
  return pieces;
}

void write_rank_file(const std::string& path, int rank, std::int64_t step,
                     const modeldef::ParamLayout& layout, modeldef::ElementRange range,
                     const PieceData& piece_data) {
  H5File f(path, H5File::Mode::create);
  f.set_attr("format", kCheckpointFormat);
  f.set_attr("version", std::to_string(kCheckpointVersion));
  f.set_attr("rank", std::to_string(rank));
  f.set_attr("step", std::to_string(step));
  for (const TensorPiece& p : pieces_of(layout, range)) {
    const std::int64_t n = p.flat_end - p.flat_begin;
    for (int k = 0; k < 3; ++k) {
      const Tensor data = piece_data(p, k);
      GLM_CHECK(data.dtype() == DType::f32 && data.is_contiguous() && data.numel() == n,
                "{}: piece '{}' dataset {} is {}, expected contiguous f32 [{}]", path, p.name,
                kPieceDatasets[k], data.describe(), n);
      f.write(p.name + "/" + kPieceDatasets[k], p.whole_block() ? data.view(p.shape) : data);
    }
    f.set_int_attr(p.name, "global_shape", p.global_shape);
    f.set_int_attr(p.name, "offset", p.offset);
    f.set_int_attr(p.name, "shape", p.shape);
    f.set_int_attr(p.name, "flat_range", {p.flat_begin, p.flat_end});
  }
  f.close();  // a full disk shows here at the latest, not in a destructor
}

void remove_dir(const fs::path& dir, const char* why) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) spdlog::warn("{}: cannot remove ({}): {}", dir.string(), why, ec.message());
}

// A failed save: its partial directory goes (tmp empty: another rank removes it), `latest`
// still names the previous checkpoint, and the error says both.
[[noreturn]] void throw_save_failed(const std::string& save_root, const fs::path& tmp,
                                    const std::string& why) {
  if (!tmp.empty()) remove_dir(tmp, "a failed save");
  const fs::path latest = fs::path(save_root) / kLatestFile;
  std::string previous = "no checkpoint yet";
  if (fs::exists(latest)) {
    std::ifstream in(latest);
    std::string step;
    in >> step;
    previous = "latest still names step " + step;
  }
  throw SaveError(fmt::format("saving a checkpoint to {} failed: {}; its partial directory was "
                              "removed, {}",
                              save_root, why, previous));
}

// Cleans up after a save that died: iter_X.tmp (unpublished, or the replaced checkpoint
// after an exchange) goes; iter_X.old (a checkpoint being replaced by the two-rename
// fallback) goes when iter_X is in place, and otherwise is put back as iter_X: the replace
// died between its renames, and .old is the complete checkpoint `latest` may name.
void remove_stale(const fs::path& root) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("iter_", 0) == 0 && e.is_directory() &&
        (name.ends_with(".tmp") || name.ends_with(".old")))
      found.push_back(e.path());
  }
  for (const fs::path& dir : found) {
    const std::string name = dir.filename().string();
    const fs::path final_dir = root / name.substr(0, name.size() - 4);
    if (name.ends_with(".old") && !fs::exists(final_dir)) {
      spdlog::warn("{}: restoring the checkpoint an interrupted save was replacing",
                   final_dir.string());
      fs::rename(dir, final_dir);
      fsync_dir(root.string());
      continue;
    }
    spdlog::warn("{}: removing an incomplete checkpoint left by an interrupted save",
                 dir.string());
    remove_dir(dir, "stale");
  }
}

// Swaps two directories in one step (Linux renameat2 RENAME_EXCHANGE); false where the file
// system cannot (some network file systems), changing nothing.
bool exchange_dirs(const fs::path& a, const fs::path& b) {
  if (std::getenv("GLM_TEST_NO_RENAME_EXCHANGE")) return false;  // tests: the fallback
  return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
}

// keep_last along the lineage of the checkpoint just saved (`saved`): from it, each
// checkpoint's parent_step leads to the one its run continued from (a checkpoint without
// lineage, written before it was recorded, continues from the next lower step present).
// The newest keep_last of that chain stay, and the step the run resumed from; the rest of the
// chain goes. Checkpoints off the chain (an abandoned branch after resuming from an earlier
// step, another run's) are never removed here: they are returned for the log.
struct Pruned {
  std::vector<std::string> removed, off_lineage;
};

Pruned prune(const fs::path& root, int keep_last, const CheckpointMeta& saved) {
  Pruned out;
  struct Entry {
    std::int64_t parent = -1;
    bool known = false;  // lineage recorded (else: the next lower step)
    bool readable = false;
  };
  std::map<std::int64_t, Entry> present;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::int64_t s = parse_iter_dir_name(e.path().filename().string());
    if (s < 0 || !e.is_directory() || !fs::exists(e.path() / kMetaFile)) continue;
    Entry entry;
    try {
      const CheckpointMeta m = read_checkpoint_meta(e.path().string());
      entry = {m.parent_step, m.has_lineage, true};
    } catch (const std::exception&) {
      // unreadable: never on the chain, so never removed here
    }
    present[s] = entry;
  }
  std::vector<std::int64_t> chain;
  std::set<std::int64_t> on_chain;
  for (std::int64_t cur = saved.step; cur >= 0 && !on_chain.count(cur);) {
    auto it = present.find(cur);
    if (it == present.end() || !it->second.readable) break;
    chain.push_back(cur);
    on_chain.insert(cur);
    if (it->second.known) {
      cur = it->second.parent;
    } else {
      cur = it == present.begin() ? -1 : std::prev(it)->first;
    }
  }
  for (std::size_t i = 0; keep_last > 0 && i < chain.size(); ++i) {
    if (i < static_cast<std::size_t>(keep_last) || chain[i] == saved.resumed_from) continue;
    fs::path dir = root / iter_dir_name(chain[i]);
    remove_dir(dir, "keep_last");
    out.removed.push_back(dir.string());
  }
  for (const auto& [step, entry] : present)
    if (!on_chain.count(step)) out.off_lineage.push_back((root / iter_dir_name(step)).string());
  return out;
}

std::int64_t parse_latest(const std::string& path) {
  std::string text = glm::read_file_bytes(path);
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


// Step 1 of a save: the save root exists, stale temporaries are gone, iter_X.tmp/ is new.
fs::path begin_save(const std::string& save_root, std::int64_t step) {
  const fs::path root(save_root);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    throw InputError(
        fmt::format("{}: cannot create the save directory: {}", save_root, ec.message()));
  remove_stale(root);
  const fs::path tmp = root / (iter_dir_name(step) + ".tmp");
  fs::create_directories(tmp);
  return tmp;
}

// Checkpoint files are written from host memory: a trainer on a GPU passes host copies (a
// device pointer here would be read by HDF5 directly).
void require_host(const char* op, const OptimizerTensors& t) {
  GLM_CHECK(t.layout != nullptr, "{}: no layout", op);
  const std::int64_t n = t.flat_range().size();
  for (const Tensor* x : {&t.master, &t.exp_avg, &t.exp_avg_sq})
    GLM_CHECK(x->device().is_cpu() && x->numel() == n && x->dtype() == DType::f32,
              "{}: optimizer tensors must be in host memory, f32 [{}], got {}", op, n, x->describe());
}

// A rank file as meta.json lists it: what its writer holds, and the size and SHA-256 the
// writer measured.
struct WrittenFile {
  int rank = 0;
  const modeldef::ParamLayout* layout = nullptr;
  modeldef::ElementRange range;
  std::int64_t bytes = 0;
  std::string sha256;
};

// Step 2, once per writing rank: its rank file, fsynced, then hashed by the rank that wrote it
// (each writer hashes its own file, in parallel with the others).
WrittenFile write_rank(const fs::path& tmp, const RankFileSource& source, std::int64_t step) {
  const fs::path rank_path = tmp / rank_file_name(source.rank);
  write_rank_file(rank_path.string(), source.rank, step, *source.layout, source.range,
                  source.piece_data);
  fsync_file(rank_path.string());
  return {source.rank, source.layout, source.range,
          static_cast<std::int64_t>(fs::file_size(rank_path)), sha256_file_hex(rank_path.string())};
}

// A rank file written from optimizer tensors in host memory: each piece's datasets are
// slices of them (a trainer on a GPU passes host copies: HDF5 reads the pointers directly).
RankFileSource from_tensors(int rank, const OptimizerTensors& t) {
  require_host("save_checkpoint", t);
  const modeldef::ElementRange range = t.flat_range();
  return {rank, t.layout, range, [&t, range](const TensorPiece& p, int k) {
            const Tensor* sources[] = {&t.master, &t.exp_avg, &t.exp_avg_sq};
            // where the piece's first element sits in t's tensors
            const std::int64_t local = t.layout->spec(p.name).offset + p.flat_begin - range.begin;
            return sources[k]->slice(0, local, local + p.flat_end - p.flat_begin);
          }};
}

// Step 3: meta.json describing every rank file, then the atomic publication.
SaveResult publish(const std::string& save_root, const fs::path& tmp, CheckpointMeta meta,
                   const std::vector<WrittenFile>& written, int keep_last,
                   std::chrono::steady_clock::time_point t0) {
  maybe_crash("after_files");
  hold_if_testing("save_step", meta.step);  // rank files written, unpublished
  const fs::path root(save_root);
  meta.tensors.clear();
  meta.files.clear();
  std::unordered_map<std::string, bool> listed;
  for (const WrittenFile& w : written) {
    for (const auto& s : w.layout->specs())
      if (!listed[s.name]) {
        listed[s.name] = true;
        meta.tensors.push_back({s.name, s.global_shape});
      }
    meta.files.push_back(
        {rank_file_name(w.rank), w.rank, w.bytes, w.sha256, pieces_of(*w.layout, w.range)});
  }
  const fs::path meta_path = tmp / kMetaFile;
  {
    std::ofstream out(meta_path, std::ios::binary | std::ios::trunc);
    errno = 0;
    out << meta.to_json().dump(2) << '\n';
    out.close();
    if (!out)
      throw SystemError(fmt::format("{}: write failed: {}", meta_path.string(),
                                    write_failure_reason(meta_path.string(), errno)));
  }
  fsync_file(meta_path.string());
  fsync_dir(tmp.string());
  maybe_crash("after_meta");

  // Publish: rename into place, make the rename durable, then point `latest` at it. An
  // existing checkpoint of the same step is replaced so that iter_X is complete at every
  // moment: swapped with the new one in one step where the file system can, else renamed
  // to iter_X.old first, which a restart puts back if the save dies before the second
  // rename (remove_stale) and which a load follows meanwhile (resolve_checkpoint_dir).
  const fs::path final_dir = root / iter_dir_name(meta.step);
  const fs::path old = root / (iter_dir_name(meta.step) + ".old");
  fs::path replaced;  // where the previous iter_X is once the new one is in place
  if (!fs::exists(final_dir)) {
    fs::rename(tmp, final_dir);
  } else if (exchange_dirs(tmp, final_dir)) {
    replaced = tmp;
  } else {
    fs::rename(final_dir, old);
    fsync_dir(root.string());
    maybe_crash("between_renames");
    fs::rename(tmp, final_dir);
    replaced = old;
  }
  fsync_dir(root.string());
  maybe_crash("before_latest");
  glm::write_file_atomically((root / kLatestFile).string(), fmt::format("{}\n", meta.step));
  maybe_crash("after_latest");
  if (!replaced.empty()) remove_dir(replaced, "replaced");

  SaveResult r;
  r.dir = final_dir.string();
  r.bytes = meta.total_bytes() + static_cast<std::int64_t>(fs::file_size(final_dir / kMetaFile));
  Pruned pruned = prune(root, keep_last, meta);
  r.pruned = std::move(pruned.removed);
  r.off_lineage = std::move(pruned.off_lineage);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

SaveResult save_checkpoint_files(
    const std::string& save_root, CheckpointMeta meta, std::size_t count,
    const std::function<RankFileSource(std::size_t)>& produce, int keep_last) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path tmp = fs::path(save_root) / (iter_dir_name(meta.step) + ".tmp");
  try {
    begin_save(save_root, meta.step);
    std::vector<WrittenFile> writers;
    for (std::size_t i = 0; i < count; ++i) {
      writers.push_back(write_rank(tmp, produce(i), meta.step));
    }
    return publish(save_root, tmp, std::move(meta), writers, keep_last, t0);
  } catch (const SystemError& e) {
    throw_save_failed(save_root, tmp, e.what());
  } catch (const fs::filesystem_error& e) {  // a directory made or renamed: its errno
    throw_save_failed(save_root, tmp, e.what());
  }
}

struct PhasedSave::State {
  std::string save_root;
  CheckpointMeta meta;
  int keep_last = 0;
  CollectiveSave group;
  modeldef::ModelConfig config;
  bool leader = true;
  fs::path tmp;
  std::chrono::steady_clock::time_point t0;
  std::string failure;  // this rank's, from any phase
  WrittenFile mine;

  // Every rank learns whether any rank failed its phase; then all throw together (the
  // leader removing the partial directory) instead of leaving others waiting in a collective.
  void agree() {
    double failed[1] = {failure.empty() ? 0.0 : 1.0};
    if (group.world) group.world->all_reduce_sum(failed);
    if (failed[0] == 0) return;
    if (failure.empty())
      failure = "another rank could not write its part (its own message names the file)";
    throw_save_failed(save_root, leader ? tmp : fs::path(), failure);
  }
  template <class F>
  void run(F&& phase) {
    try {
      phase();
    } catch (const SystemError& e) {
      failure = e.what();
    } catch (const fs::filesystem_error& e) {
      failure = e.what();
    }
  }
};

PhasedSave::PhasedSave(std::unique_ptr<State> s) : s_(std::move(s)) {}
PhasedSave::PhasedSave(PhasedSave&&) noexcept = default;
PhasedSave& PhasedSave::operator=(PhasedSave&&) noexcept = default;
PhasedSave::~PhasedSave() = default;

std::int64_t PhasedSave::step() const { return s_->meta.step; }

PhasedSave PhasedSave::begin(const std::string& save_root, CheckpointMeta meta, int keep_last,
                             const CollectiveSave& group, const modeldef::ModelConfig& config) {
  auto s = std::make_unique<State>();
  s->t0 = std::chrono::steady_clock::now();
  s->save_root = save_root;
  s->keep_last = keep_last;
  s->group = group;
  s->config = config;
  s->leader = !group.world || group.world->rank() == 0;
  s->tmp = fs::path(save_root) / (iter_dir_name(meta.step) + ".tmp");
  s->meta = std::move(meta);
  s->run([&] {
    if (s->leader) begin_save(save_root, s->meta.step);
  });
  s->agree();
  return PhasedSave(std::move(s));
}

void PhasedSave::write(const OptimizerTensors& tensors) {
  State& s = *s_;
  // Any error here (an I/O error, a bad tensor) is kept for finish(), where every rank learns
  // of it: nothing escapes a writer thread, and no rank is left waiting in a collective.
  try {
    if (s.group.writes)
      s.mine = write_rank(s.tmp, from_tensors(s.group.world_rank, tensors), s.meta.step);
  } catch (const std::exception& e) {
    s.failure = e.what();
  }
}

SaveResult PhasedSave::finish() {
  State& s = *s_;
  s.agree();
  // Every writer's size and SHA-256 reach rank 0 (for meta.json) in one sum: a slot of
  // 1 + 32 values per world rank, the size and the digest's bytes, each exact in a double.
  constexpr std::size_t kSlot = 33;
  const int world = s.group.world ? s.group.world->size() : 1;
  std::vector<double> digests(static_cast<std::size_t>(world) * kSlot, 0.0);
  if (s.group.writes) {
    double* slot = digests.data() + static_cast<std::size_t>(s.group.world_rank) * kSlot;
    slot[0] = static_cast<double>(s.mine.bytes);
    for (std::size_t i = 0; i < 32; ++i)
      slot[1 + i] = std::stoi(s.mine.sha256.substr(2 * i, 2), nullptr, 16);
  }
  if (s.group.world) s.group.world->all_reduce_sum(digests);
  SaveResult r;
  s.run([&] {
    if (s.leader) {
      std::vector<modeldef::ParamLayout> layouts;
      layouts.reserve(s.group.writers.size());
      for (const auto& w : s.group.writers) layouts.emplace_back(s.config, w.shard);
      std::vector<WrittenFile> writers;
      for (std::size_t i = 0; i < layouts.size(); ++i) {
        const RankShard& w = s.group.writers[i];
        GLM_CHECK(w.rank >= 0 && w.rank < world, "checkpoint writer rank {} outside the world of {}",
                  w.rank, world);
        const double* slot = digests.data() + static_cast<std::size_t>(w.rank) * kSlot;
        std::string sha;
        for (std::size_t k = 0; k < 32; ++k)
          sha += fmt::format("{:02x}", static_cast<int>(slot[1 + k]));
        writers.push_back({w.rank, &layouts[i],
                           w.range ? *w.range : modeldef::full_range(layouts[i]),
                           static_cast<std::int64_t>(slot[0]), sha});
      }
      r = publish(s.save_root, s.tmp, s.meta, writers, s.keep_last, s.t0);
    } else {
      r.dir = (fs::path(s.save_root) / iter_dir_name(s.meta.step)).string();
    }
  });
  s.agree();
  if (!s.leader)
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.t0).count();
  return r;
}


std::optional<std::int64_t> newest_checkpoint_before(const std::string& root, std::int64_t before) {
  std::optional<std::int64_t> best;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::int64_t s = parse_iter_dir_name(e.path().filename().string());
    if (s < 0 || s >= before || !fs::exists(e.path() / kMetaFile)) continue;
    if (!best || s > *best) best = s;
  }
  return best;
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
  if (!fs::is_directory(d, ec)) {
    // A save replacing this step died between its two renames: the complete checkpoint is
    // iter_X.old until the next save puts it back.
    const fs::path old = p / (d.filename().string() + ".old");
    if (fs::exists(old / kMetaFile)) return old.string();
    throw InputError(fmt::format("{}: points to {}, which does not exist", latest.string(),
                                 d.filename().string()));
  }
  return d.string();
}

CheckpointMeta read_checkpoint_meta(const std::string& dir) {
  const std::string path = (fs::path(dir) / kMetaFile).string();
  std::string text = glm::read_file_bytes(path);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw InputError(fmt::format("{}: not valid JSON (corrupt or truncated)", path));
  return CheckpointMeta::from_json(j, path);
}

std::vector<RankShard> checkpoint_writers(const modeldef::ModelConfig& c,
                                          const config::ParallelConfig& p) {
  std::vector<RankShard> writers;
  const bool sharded = p.zero && p.dp > 1;  // as optim::ShardedOptimizer shards
  for (int stage = 0; stage < p.pp; ++stage)
    for (int t = 0; t < p.tp; ++t) {
      const modeldef::ModelShard shard = config::shard_for(c, p, t, stage);
      if (!sharded) {
        writers.push_back({t + p.tp * p.dp * stage, shard, std::nullopt});
        continue;
      }
      const parallel::ShardPlan plan(modeldef::ParamLayout(c, shard).total(), p.dp);
      for (int d = 0; d < p.dp; ++d)
        writers.push_back({t + p.tp * (d + p.dp * stage), shard,
                           modeldef::ElementRange{plan.begin(d), plan.end(d)}});
    }
  return writers;
}

}  // namespace glm::checkpoint
