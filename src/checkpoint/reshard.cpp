#include "checkpoint/reshard.h"

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/progress.h"

namespace glm::checkpoint {

ReshardResult reshard_checkpoint(const std::string& in_dir, std::optional<std::int64_t> iter,
                                 const std::string& out_root,
                                 const config::ParallelConfig& to_layout) {
  ReshardResult r;
  r.from_dir = resolve_checkpoint_dir(in_dir, iter);
  CheckpointMeta meta = read_checkpoint_meta(r.from_dir);
  verify_checkpoint_files(r.from_dir, meta);
  verify_checkpoint_pieces(r.from_dir, meta);
  const std::string meta_path = (std::filesystem::path(r.from_dir) / kMetaFile).string();
  config::RunConfig rc = config::parse_run_config(meta.config.dump(), meta_path + " (config)");
  if (std::filesystem::weakly_canonical(out_root) ==
      std::filesystem::weakly_canonical(std::filesystem::path(r.from_dir).parent_path()))
    throw InputError(fmt::format("{}: reshard into the save directory it reads from would mix "
                                 "layouts; give another --out",
                                 out_root));

  config::ParallelConfig to = to_layout;
  to.pipeline_first_last_layers = rc.parallel.pipeline_first_last_layers;
  if (to.dp < 1 || to.tp < 1 || to.pp < 1)
    throw InputError(fmt::format("reshard: --dp {} --tp {} --pp {}: sizes must be >= 1", to.dp,
                                 to.tp, to.pp));
  const std::vector<RankShard> writers = checkpoint_writers(rc.model, to);
  for (const auto& w : writers)
    w.shard.validate(rc.model, fmt::format("reshard to dp {} tp {} pp {}", to.dp, to.tp, to.pp));

  // Each piece of each new rank file is re-cut from the stored pieces just before it is
  // written, one dataset at a time: beyond the reader's one stored piece, one piece (at most
  // one tensor) is in memory at once.
  std::vector<std::unique_ptr<modeldef::ParamLayout>> layouts;
  for (const auto& w : writers)
    layouts.push_back(std::make_unique<modeldef::ParamLayout>(rc.model, w.shard));
  Progress progress("reshard: new rank files re-cut", static_cast<std::int64_t>(writers.size()));
  const CheckpointMeta source = meta;  // (meta becomes the new checkpoint's below)
  CheckpointReader reader(r.from_dir, source, /*files_verified=*/true);
  auto recut = [&](std::size_t i) {
    if (i > 0) progress.advance();
    const RankShard& w = writers[i];
    const modeldef::ParamLayout* layout = layouts[i].get();
    const modeldef::ElementRange range = w.range ? *w.range : modeldef::full_range(*layout);
    return RankFileSource{w.rank, layout, range, [&reader, layout](const TensorPiece& p, int k) {
                            const std::int64_t at = layout->spec(p.name).offset;
                            trim_host_heap();  // the previous piece's pages, returned
                            return reader.read_one(*layout, {at + p.flat_begin, at + p.flat_end}, k);
                          }};
  };
  r.from = meta.layout;
  r.to = {to.dp * to.tp * to.pp, to.dp, to.tp, to.pp, to.zero ? 1 : 0};
  meta.layout = r.to;
  rc.parallel = to;
  meta.config = rc.to_json();
  r.saved = save_checkpoint_files(out_root, meta, writers.size(), recut, /*keep_last=*/0);
  progress.advance();
  progress.finish();
  return r;
}

}  // namespace glm::checkpoint
