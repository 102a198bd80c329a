// Checkpoints (docs/design.md section 7): an atomic, verified directory per saved step that holds
// everything a run needs to continue bit for bit (invariant 5), in a layout-independent form.
//
//   <save>/latest                  the step of the newest complete checkpoint ("20\n")
//   <save>/iter_00000020/meta.json format + version, step, consumed samples, optimizer,
//                                  loss-scaler and spike-guard state, seed, full run config,
//                                  the layout that wrote it, every tensor's global shape,
//                                  each rank file's size, SHA-256 and pieces
//   <save>/iter_00000020/rank_00000.h5   one HDF5 file per world rank (checkpoint/format.h)
//
// Saving writes iter_X.tmp/, fsyncs every file and the directory, renames it to iter_X,
// fsyncs the save root, then replaces `latest` atomically and prunes to the newest
// keep_last checkpoints; a crash at any moment leaves the previous checkpoint loadable.
// Re-saving a step that exists swaps the two directories in one step (renameat2
// RENAME_EXCHANGE), or, where the file system cannot, renames the old one to iter_X.old
// first: loads follow iter_X.old while iter_X is missing, and the next save puts it back.
// Loading checks every file's size and SHA-256 and every piece's shape before use; any
// problem is an InputError naming the file.
//
//   CheckpointMeta meta = ...;                     // the trainer fills state and config
//   PhasedSave s = PhasedSave::begin("ckpt", meta, /*keep_last=*/3, group, config);
//   s.write(tensors); SaveResult r = s.finish();
//   std::string dir = resolve_checkpoint_dir("ckpt", std::nullopt);   // follows latest
//   CheckpointMeta m = read_checkpoint_meta(dir);
//   verify_checkpoint_files(dir, m);               // sizes and checksums
//   load_optimizer_tensors(dir, m, tensors);       // master weights and Adam moments
//
// Test hooks: the environment variable GLM_TEST_CRASH_IN_SAVE makes the saver _exit(137)
// as if killed at a point between two file-system steps: "after_files" (rank files written,
// no meta.json), "after_meta" (complete but unpublished), "between_renames" (replacing a
// step by the fallback: the old one renamed away, the new one not yet in place),
// "before_latest" (published, `latest` not yet replaced), "after_latest" (the replaced
// checkpoint not yet removed). GLM_TEST_NO_RENAME_EXCHANGE forces the two-rename fallback.
// Tests use them to check that `latest` always names a checkpoint that verifies.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/format.h"
#include "checkpoint/optimizer_tensors.h"
#include "checkpoint/reader.h"
#include "config/run_config.h"
#include "core/tensor.h"
#include "modeldef/param_layout.h"
#include "parallel/communicator.h"

namespace glm::checkpoint {

// A save that could not complete (a full disk, an I/O error): the message names the path,
// the system's reason and the checkpoint `latest` still names; the partial directory is
// removed. Every rank of a collective save throws it together.
class SaveError : public SystemError {
 public:
  explicit SaveError(const std::string& what) : SystemError(what) {}
};

struct SaveResult {
  std::string dir;         // the final iter_XXXXXXXX directory
  std::int64_t bytes = 0;  // all files written
  double seconds = 0;
  std::vector<std::string> pruned;  // older checkpoints removed (keep_last)
  // Complete checkpoints off the saved one's lineage (an abandoned branch, another run's):
  // never pruned, reported.
  std::vector<std::string> off_lineage;
};

// A save root (its `latest` is followed, or iter_<iter> when iter is given) or a checkpoint
// directory itself (it holds meta.json). InputError naming what is missing.
std::string resolve_checkpoint_dir(const std::string& dir, std::optional<std::int64_t> iter);

// The step of the newest complete checkpoint (iter_* holding meta.json) under a save root
// whose step is below `before`; none when there is none (or no such directory).
std::optional<std::int64_t> newest_checkpoint_before(const std::string& root, std::int64_t before);

// meta.json parsed and checked for format, version and internal consistency.
CheckpointMeta read_checkpoint_meta(const std::string& dir);

// Every rank file listed is present with its recorded size and SHA-256.
void verify_checkpoint_files(const std::string& dir, const CheckpointMeta& meta);
// The same for one of them: InputError naming the file and the rank that wrote it.
void verify_checkpoint_file(const std::string& dir, const CheckpointFile& file);
// Every piece listed is in its rank file with the recorded attributes, f32 datasets of the
// recorded shape, and the pieces of each tensor cover it exactly (completeness).
void verify_checkpoint_pieces(const std::string& dir, const CheckpointMeta& meta);

// One rank file's contents, asked for one piece and one dataset at a time: piece_data(p, k)
// returns dataset k (0 master, 1 exp_avg, 2 exp_avg_sq; kPieceDatasets) of piece p as a
// contiguous f32 [p's flat size], which is written before the next one is asked for.
using PieceData = std::function<Tensor(const TensorPiece& piece, int k)>;
struct RankFileSource {
  int rank = 0;                                // the world rank that would have written it
  const modeldef::ParamLayout* layout = nullptr;  // must outlive the save
  modeldef::ElementRange range;                   // the pieces of this range are written
  PieceData piece_data;
};

// Rank files written from one process (glm-ckpt reshard), made one at a time: produce(i)
// describes the i-th file, whose pieces are then asked for one dataset at a time, so the
// caller need not hold more than one piece in memory. The save protocol is a trainer's:
// under save_root (created if needed), stale iter_*.tmp removed, meta's tensors and files
// lists filled in here; keep_last = 0 keeps every checkpoint, otherwise the newest keep_last
// of the saved one's lineage are kept (following meta.lineage.parent_step back from it) and
// the step its run resumed from; checkpoints off that lineage are kept and listed in
// SaveResult::off_lineage.
SaveResult save_checkpoint_files(const std::string& save_root, CheckpointMeta meta,
                                 std::size_t count,
                                 const std::function<RankFileSource(std::size_t)>& produce,
                                 int keep_last);

// A run's save (PhasedSave below), called by every rank of `world` (null: one process):
// world rank 0 prepares and publishes the directory; the ranks with `writes` each write
// their rank file with their
// primary pieces: without ZeRO, DP rank 0 of each TP x PP position (its whole layout); with
// ZeRO-1, every DP rank (its own shard of master weights and moments, nothing gathered).
// Each writer hashes its own file; the sizes and digests reach rank 0 in one sum. `writers`
// lists every writing rank with its model shard and range (so rank 0 can describe all files
// in meta.json).
struct RankShard {
  int rank = 0;
  modeldef::ModelShard shard;
  std::optional<modeldef::ElementRange> range;  // a ZeRO-1 shard of the flat buffer; none: all
};
struct CollectiveSave {
  parallel::Communicator* world = nullptr;
  int world_rank = 0;
  bool writes = false;
  std::vector<RankShard> writers;
};

// A save in three phases, so that the middle one can run on a writer thread while training
// goes on (train.save_mode "async", train/background_save.h). group.world may be null (one
// process; then the one rank writes).
//   PhasedSave s = PhasedSave::begin(root, meta, keep_last, group, config);  // collective:
//                                              // rank 0 prepares iter_X.tmp/, all agree
//   s.write(tensors);           // local, any thread: this rank's file, fsynced and hashed;
//                               // never throws: any failure is kept for finish()
//   SaveResult r = s.finish();  // collective: every rank's outcome agreed, the digests to
//                               // rank 0, which publishes; SaveError on every rank on failure
class PhasedSave {
 public:
  static PhasedSave begin(const std::string& save_root, CheckpointMeta meta, int keep_last,
                          const CollectiveSave& group, const modeldef::ModelConfig& config);
  void write(const OptimizerTensors& tensors);
  SaveResult finish();
  std::int64_t step() const;

  PhasedSave(PhasedSave&&) noexcept;
  PhasedSave& operator=(PhasedSave&&) noexcept;
  ~PhasedSave();

 private:
  struct State;
  explicit PhasedSave(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// The ranks that write checkpoint files, as world rank tp + TP * (dp + DP * stage)
// (parallel/topology.h) with their shards: DP rank 0 of every (tp, stage) position, or with
// ZeRO-1 over dp > 1 every rank, with its range as optim::ShardedOptimizer cuts it.
std::vector<RankShard> checkpoint_writers(const modeldef::ModelConfig& c,
                                          const config::ParallelConfig& p);

// Reads the elements of out.flat_range() of `out.layout`'s parameters into out's tensors
// (those defined), re-cut from whatever layout wrote the checkpoint: one
// CheckpointReader::read (checkpoint/reader.h), which says how. Any checkpoint therefore
// loads into any layout, whole or ZeRO-cut, including one process. `files_verified`: the
// caller has run verify_checkpoint_files on the whole checkpoint already, so the checksums
// are not computed again.
void load_optimizer_tensors(const std::string& dir, const CheckpointMeta& meta,
                            const OptimizerTensors& out, bool files_verified = false);

}  // namespace glm::checkpoint
