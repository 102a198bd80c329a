// The on-disk checkpoint format (docs/design.md section 7): names, constants and meta.json.
//
// Rank file `rank_<world rank:05d>.h5`: one per TP x PP position of the layout that wrote
// it, written by that position's DP rank 0, or with ZeRO-1 one per world rank, each DP rank
// writing its own shard; TP-replicated tensors and the last stage's tied-embedding copy are
// written once, by their primary holder:
//   root attributes   format = "glm-train-checkpoint", version = "1", rank, step (strings)
//   /<param name>/    one group per parameter piece the rank holds, e.g.
//                     /layers.3.mlp.dense_h_to_4h.weight/, with
//       master        f32, the piece's fp32 master weights
//       exp_avg       f32, Adam first moment m
//       exp_avg_sq    f32, Adam second moment v
//     attributes (int64 arrays) global_shape (the full tensor), offset (where the piece's
//       block starts in it), shape (the block), flat_range [begin, end) (the part of the
//       block held, row-major). A whole block (flat_range [0, numel)) is stored in the
//       block's shape; a cut of one (a ZeRO-1 shard boundary runs through it) is stored
//       1-D [end - begin].
// A piece is therefore self-describing: any layout can re-cut it by global coordinates.
//
// meta.json (written after the rank files; see CheckpointMeta::to_json for the keys):
//   format, version, step, consumed_samples, skipped_steps, adamw_steps, rng, sampler,
//   schedule, loss_scaler, spike_guard, layout, config, tensors, files (and data, for a blend).
// Randomness is counter-based Philox keyed by (seed, purpose, step, global sample index),
// and the sampler and the lr / batch schedules are pure functions of consumed_samples, so
// (seed, step, consumed_samples) is the complete RNG, sampler and schedule state; `rng`,
// `sampler` and `schedule` restate it for people reading the file.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/training_state.h"
#include "core/tensor.h"

namespace glm::checkpoint {

inline constexpr const char* kCheckpointFormat = "glm-train-checkpoint";
inline constexpr int kCheckpointVersion = 1;
inline constexpr const char* kMetaFile = "meta.json";
inline constexpr const char* kLatestFile = "latest";
// The three fp32 datasets of every piece.
inline constexpr const char* kPieceDatasets[] = {"master", "exp_avg", "exp_avg_sq"};

std::string iter_dir_name(std::int64_t step);  // "iter_00000020"
std::string rank_file_name(int rank);          // "rank_00000.h5"
// The step of an "iter_XXXXXXXX" name, or -1 for any other name (iter_X.tmp included).
std::int64_t parse_iter_dir_name(const std::string& name);

// The parallel layout that wrote a checkpoint (docs/design.md section 4).
struct CheckpointLayout {
  int world_size = 1, dp = 1, tp = 1, pp = 1, zero = 0;
  bool operator==(const CheckpointLayout&) const = default;
};

// One stored piece of a global tensor (see the rank file description above).
struct TensorPiece {
  std::string name;
  Shape global_shape, offset, shape;
  std::int64_t flat_begin = 0, flat_end = 0;  // within the block, row-major
  bool whole_block() const { return flat_begin == 0 && flat_end == shape_numel(shape); }
};

struct CheckpointFile {
  std::string name;  // relative to the checkpoint directory
  int rank = 0;
  std::int64_t bytes = 0;
  std::string sha256;
  std::vector<TensorPiece> pieces;
};

struct CheckpointTensor {
  std::string name;
  Shape global_shape;
};

struct CheckpointMeta {
  std::int64_t step = 0;              // optimizer steps taken (skipped ones included)
  std::int64_t consumed_samples = 0;  // global samples consumed: the sampler state
  std::int64_t skipped_steps = 0;
  std::int64_t adamw_steps = 0;  // AdamW's bias-correction count (non-skipped updates)
  std::uint64_t seed = 0;
  checkpoint::LossScalerState loss_scaler;
  checkpoint::SpikeGuardState spike_guard;
  nlohmann::json schedule = nlohmann::json::object();  // lr, global batch, EGS alpha of the
                                                       // next step (informational)
  nlohmann::json config;  // RunConfig::to_json() of the run that saved it
  CheckpointLayout layout;
  // Lineage (meta.json "lineage"), what keep_last pruning follows: the checkpoint this one's
  // run continued from (its previous save, or the step it resumed from; -1: a fresh start)
  // and the step the run resumed from (-1: none). has_lineage is false for a checkpoint
  // written before lineage was recorded.
  std::int64_t parent_step = -1;
  std::int64_t resumed_from = -1;
  bool has_lineage = true;
  // A blended run's data state (meta.json "data", absent otherwise): {"blend": the
  // schedule (data/blend.h BlendSchedule::to_json), "samples": each dataset's samples given
  // before consumed_samples}.
  nlohmann::json data;
  std::vector<CheckpointTensor> tensors;  // every global tensor, in layout order
  std::vector<CheckpointFile> files;

  nlohmann::json to_json() const;
  // Checks keys and types; InputError naming `source` (the meta.json path) and the key.
  static CheckpointMeta from_json(const nlohmann::json& j, const std::string& source);
  std::int64_t total_bytes() const;  // sum of the rank files
};

}  // namespace glm::checkpoint
