#include "checkpoint/reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "core/box.h"
#include "core/error.h"
#include "modeldef/param_range.h"

namespace glm::checkpoint {
namespace {

namespace fs = std::filesystem;

// Calls f(dst, src, n) for every run of elements that both `mine` (the block of `spec`, of
// which the reader wants the row-major flat range [mine_begin, mine_end)) and the stored
// piece `p` hold: dst counts from mine_begin, src from the start of p's stored data.
template <class F>
void overlap_runs(const modeldef::ParamSpec& spec, std::int64_t mine_begin, std::int64_t mine_end,
                  const TensorPiece& p, F&& f) {
  const Box mine = spec.box();
  const Box theirs{p.offset, p.shape};
  const auto common = intersect(mine, theirs);
  if (!common) return;
  for_each_run(mine, theirs, *common, [&](std::int64_t in_mine, std::int64_t in_theirs,
                                          std::int64_t n) {
    const std::int64_t lo = std::max({std::int64_t{0}, mine_begin - in_mine,
                                      p.flat_begin - in_theirs});
    const std::int64_t hi = std::min({n, mine_end - in_mine, p.flat_end - in_theirs});
    if (lo < hi) f(in_mine + lo - mine_begin, in_theirs + lo - p.flat_begin, hi - lo);
  });
}

}  // namespace

CheckpointReader::CheckpointReader(std::string dir, const CheckpointMeta& meta,
                                   bool files_verified)
    : dir_(std::move(dir)),
      meta_path_((fs::path(dir_) / kMetaFile).string()),
      files_verified_(files_verified) {
  for (const auto& f : meta.files)
    for (const auto& p : f.pieces) by_name_[p.name].push_back({&f, &p});
}

H5File& CheckpointReader::open(const CheckpointFile& f) {
  auto& h5 = open_[f.name];
  if (!h5) h5 = std::make_unique<H5File>((fs::path(dir_) / f.name).string(), H5File::Mode::read);
  return *h5;
}

void CheckpointReader::read(const checkpoint::OptimizerTensors& out) {
  GLM_CHECK(out.layout != nullptr, "CheckpointReader::read: no layout");
  const modeldef::ElementRange range = out.flat_range();
  const Tensor* targets[] = {&out.master, &out.exp_avg, &out.exp_avg_sq};
  for (const Tensor* t : targets)
    if (t->defined())
      GLM_CHECK(t->device().is_cpu() && t->dtype() == DType::f32 && t->is_contiguous() &&
                    t->numel() == range.size(),
                "CheckpointReader::read: {} must be in host memory, contiguous f32 [{}]",
                t->describe(), range.size());

  // Plan: which stored pieces hold elements of the range, checked complete before a byte of
  // tensor data is read.
  struct Copy {
    Found from;
    const modeldef::ParamSpec* spec;
    modeldef::ParamPiece mine;
  };
  std::vector<Copy> copies;
  std::vector<const CheckpointFile*> needed;
  for (const modeldef::ParamPiece& mine : modeldef::pieces_in_range(*out.layout, range)) {
    const modeldef::ParamSpec& spec =
        out.layout->specs()[static_cast<std::size_t>(mine.spec_index)];
    auto it = by_name_.find(spec.name);
    if (it == by_name_.end())
      throw InputError(
          fmt::format("{}: no tensor '{}' (the model needs it)", meta_path_, spec.name));
    const std::int64_t begin = mine.in_param, end = mine.in_param + mine.flat.size();
    std::int64_t covered = 0;
    for (const Found& f : it->second) {
      const TensorPiece& p = *f.piece;
      if (p.global_shape != spec.global_shape)
        throw InputError(fmt::format("{}: tensor '{}' has global shape {}, the model's is {}",
                                     meta_path_, spec.name, shape_str(p.global_shape),
                                     shape_str(spec.global_shape)));
      std::int64_t n = 0;
      overlap_runs(spec, begin, end, p, [&](std::int64_t, std::int64_t, std::int64_t k) { n += k; });
      if (n == 0) continue;
      covered += n;
      copies.push_back({f, &spec, mine});
      if (std::find(needed.begin(), needed.end(), f.file) == needed.end())
        needed.push_back(f.file);
    }
    if (covered != mine.flat.size())
      throw InputError(fmt::format(
          "{}: the pieces of '{}' cover {} of the {} elements this rank needs (offset {}, shape "
          "{}, flat range [{}, {})): the checkpoint is incomplete",
          meta_path_, spec.name, covered, mine.flat.size(), shape_str(spec.global_offset),
          shape_str(spec.box_shape), begin, end));
  }
  if (!files_verified_)
    for (const CheckpointFile* f : needed)
      if (verified_.insert(f).second) verify_checkpoint_file(dir_, *f);

  for (const Copy& c : copies) {
    const TensorPiece& p = *c.from.piece;
    H5File& h5 = open(*c.from.file);
    const Shape stored = p.whole_block() ? p.shape : Shape{p.flat_end - p.flat_begin};
    for (int k = 0; k < 3; ++k) {
      if (!targets[k]->defined()) continue;
      const std::string ds = p.name + "/" + kPieceDatasets[k];
      Tensor t = h5.read(ds);
      if (t.dtype() != DType::f32 || t.shape() != stored)
        throw InputError(fmt::format("{}: dataset '{}' is {}, expected f32{}", h5.path(), ds,
                                     t.describe(), shape_str(stored)));
      float* d = targets[k]->data<float>() + c.mine.local_begin;
      const float* src = t.data<float>();
      overlap_runs(*c.spec, c.mine.in_param, c.mine.in_param + c.mine.flat.size(), p,
                   [&](std::int64_t dst, std::int64_t from, std::int64_t n) {
                     std::memcpy(d + dst, src + from, static_cast<std::size_t>(n) * sizeof(float));
                   });
    }
  }
}

Tensor CheckpointReader::read_one(const modeldef::ParamLayout& layout, modeldef::ElementRange range,
                                  int dataset) {
  GLM_CHECK(dataset >= 0 && dataset < 3, "CheckpointReader::read_one: dataset {}", dataset);
  checkpoint::OptimizerTensors t{&layout, {}, {}, {}, range};
  Tensor* targets[] = {&t.master, &t.exp_avg, &t.exp_avg_sq};
  *targets[dataset] = Tensor::empty({range.size()}, DType::f32);
  read(t);
  return *targets[dataset];
}

void load_optimizer_tensors(const std::string& dir, const CheckpointMeta& meta,
                            const checkpoint::OptimizerTensors& out, bool files_verified) {
  CheckpointReader(dir, meta, files_verified).read(out);
}

}  // namespace glm::checkpoint
