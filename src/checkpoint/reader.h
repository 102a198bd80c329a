// Reading a checkpoint's tensors into any layout: the one reader behind a trainer's load,
// `glm-ckpt reshard` and `glm-export`.
//
//   CheckpointReader reader(dir, meta);          // indexes meta.json's pieces once
//   reader.read({&layout, master, m, v, range});  // any range of any layout, any number of times
//
// Each read plans first: which stored pieces overlap the requested elements (by global
// offsets and flat ranges), checked complete before a byte of tensor data is read. The rank
// files a read needs are opened once and kept open for later reads; each is checked against
// meta.json's size and SHA-256 before its first read, by this process alone (an InputError
// names the file and its writing rank), unless the caller verified the whole checkpoint
// already (`files_verified`). A read holds one stored piece's dataset in memory beyond its
// targets, so reading a checkpoint one tensor at a time never holds more than two tensors.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "checkpoint/format.h"
#include "checkpoint/optimizer_tensors.h"
#include "core/h5_tensors.h"

namespace glm::checkpoint {

class CheckpointReader {
 public:
  // `meta` must outlive the reader.
  CheckpointReader(std::string dir, const CheckpointMeta& meta, bool files_verified = false);

  // Reads the elements of out.flat_range() of out.layout's parameters into out's defined
  // tensors (host, contiguous f32 [range size]); InputError naming meta.json when a needed
  // tensor is missing, has another global shape, or is not covered completely.
  void read(const checkpoint::OptimizerTensors& out);
  // One dataset (0 master, 1 exp_avg, 2 exp_avg_sq) of one flat range of `layout`, as a new
  // host f32 [range size]: what the offline tools stream, one tensor or piece at a time.
  Tensor read_one(const modeldef::ParamLayout& layout, modeldef::ElementRange range, int dataset);

 private:
  struct Found {
    const CheckpointFile* file;
    const TensorPiece* piece;
  };
  H5File& open(const CheckpointFile& f);

  std::string dir_, meta_path_;
  bool files_verified_;
  std::unordered_map<std::string, std::vector<Found>> by_name_;
  std::unordered_map<std::string, std::unique_ptr<H5File>> open_;
  std::unordered_set<const CheckpointFile*> verified_;
};

}  // namespace glm::checkpoint
