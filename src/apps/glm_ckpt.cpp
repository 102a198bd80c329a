// glm-ckpt: look into and check glm-train checkpoints (checkpoint/checkpoint.h).
//
//   glm-ckpt inspect DIR [--iter N] [--json]   layout, step, state, files, tensors
//   glm-ckpt verify DIR [--iter N]             sizes, SHA-256, pieces, completeness, config
//   glm-ckpt reshard --in DIR [--iter N] --out DIR --dp N --tp N --pp N [--zero 0|1]
//                                              the checkpoint re-cut for another layout
//
// DIR is a save directory (its `latest` is followed, or iter_<N> with --iter) or one
// iter_XXXXXXXX checkpoint directory. Exit 0 when the checkpoint is sound, 2 when it is not
// (or on bad usage; the message names the file), 1 on an internal failure.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <nlohmann/json.hpp>

#include "apps/app_main.h"
#include "apps/option_range.h"
#include "apps/parse_options.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/reshard.h"
#include "config/run_config.h"

namespace po = boost::program_options;

namespace {

using glm::checkpoint::CheckpointMeta;

void print_inspect(const std::string& dir, const CheckpointMeta& m) {
  const auto& model = m.config.value("model", nlohmann::json::object());
  const auto& train = m.config.value("train", nlohmann::json::object());
  std::int64_t params = 0;
  for (const auto& t : m.tensors) params += glm::shape_numel(t.global_shape);
  std::cout << fmt::format("checkpoint {} ({} version {})\n", dir,
                           glm::checkpoint::kCheckpointFormat, glm::checkpoint::kCheckpointVersion);
  std::cout << fmt::format("step {} | consumed samples {} | skipped steps {} | AdamW steps {}\n",
                           m.step, m.consumed_samples, m.skipped_steps, m.adamw_steps);
  std::cout << fmt::format("layout: world {} (dp {}, tp {}, pp {}, zero {})\n", m.layout.world_size,
                           m.layout.dp, m.layout.tp, m.layout.pp, m.layout.zero);
  std::cout << fmt::format("model: {} | precision {} | seed {}\n", model.dump(),
                           train.value("precision", std::string("?")), m.seed);
  std::cout << fmt::format("loss scale {:g} | next step: {}\n", m.loss_scaler.scale,
                           m.schedule.dump());
  std::cout << fmt::format("files ({}, {:.1f} MB):\n", m.files.size(), m.total_bytes() / 1e6);
  for (const auto& f : m.files)
    std::cout << fmt::format("  {}  rank {}  {} bytes  {} pieces  sha256 {}\n", f.name, f.rank,
                             f.bytes, f.pieces.size(), f.sha256);
  std::cout << fmt::format(
      "tensors ({}, {} parameters; each stored as f32 master, exp_avg, "
      "exp_avg_sq):\n",
      m.tensors.size(), params);
  std::size_t width = 4;
  for (const auto& t : m.tensors) width = std::max(width, t.name.size());
  for (const auto& t : m.tensors)
    std::cout << fmt::format("  {:<{}}  f32  {:<16}  {:>10} elements\n", t.name, width,
                             glm::shape_str(t.global_shape), glm::shape_numel(t.global_shape));
}

int run(int argc, char** argv) {
  std::string command, dir, in_dir, out_dir;
  std::int64_t iter = 0;
  int dp = 1, tp = 1, pp = 1, zero = 0;
  po::options_description desc(
      "glm-ckpt: inspect and verify glm-train checkpoints (docs/design.md section 7).\n\n"
      "Usage: glm-ckpt inspect DIR [--iter N] [--json]\n"
      "       glm-ckpt verify DIR [--iter N]\n"
      "       glm-ckpt reshard --in DIR [--iter N] --out DIR --dp N --tp N --pp N [--zero 0|1]\n"
      "DIR: a save directory (follows its `latest`) or an iter_XXXXXXXX directory.\n"
      "verify exits 0 when every file, checksum, shape and piece is sound, 2 otherwise.\n\n"
      "Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("iter", po::value(&iter), "the checkpoint of iteration N instead of latest")
    ("json", "inspect: print meta.json instead of the summary")
    ("in", po::value(&in_dir), "reshard: the checkpoint to read (save directory or iter_X)")
    ("out", po::value(&out_dir), "reshard: the save directory to write (a new latest)")
    ("dp", po::value(&dp)->default_value(1), "reshard: data-parallel size of the new layout")
    ("tp", po::value(&tp)->default_value(1), "reshard: tensor-parallel size")
    ("pp", po::value(&pp)->default_value(1), "reshard: pipeline-parallel size")
    ("zero", po::value(&zero)->default_value(0), "reshard: 1 if the new layout uses ZeRO-1");
  po::options_description hidden;
  hidden.add_options()
    ("command", po::value(&command))
    ("dir", po::value(&dir));
  // clang-format on
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1).add("dir", 1);
  po::variables_map vm;
  if (auto stop = glm::apps::parse_options(
          po::command_line_parser(argc, argv).options(all).positional(pos), argc, desc, vm))
    return *stop;
  glm::apps::require_range<std::int64_t>(vm, "iter", 0, std::int64_t{1} << 40);
  const std::optional<std::int64_t> at_iter =
      vm.count("iter") ? std::optional<std::int64_t>(iter) : std::nullopt;
  if (command == "reshard") {
    for (const char* flag : {"dp", "tp", "pp"}) glm::apps::require_range(vm, flag, 1, 1 << 20);
    if (in_dir.empty() && !dir.empty()) in_dir = dir;
    if (in_dir.empty() || out_dir.empty())
      throw glm::InputError("glm-ckpt reshard: give --in DIR and --out DIR");
    if (zero != 0 && zero != 1) throw glm::InputError(fmt::format("--zero {}: expected 0 or 1", zero));
    glm::config::ParallelConfig to;
    to.dp = dp;
    to.tp = tp;
    to.pp = pp;
    to.zero = zero == 1;
    auto r = glm::checkpoint::reshard_checkpoint(
        in_dir, at_iter, out_dir, to);
    std::cout << fmt::format(
        "resharded {} (dp {} tp {} pp {}, {} ranks) -> {} (dp {} tp {} pp {}, {} ranks): {} "
        "file(s), {:.1f} MB in {:.2f} s\n",
        r.from_dir, r.from.dp, r.from.tp, r.from.pp, r.from.world_size, r.saved.dir, r.to.dp,
        r.to.tp, r.to.pp, r.to.world_size, r.to.tp * r.to.pp, r.saved.bytes / 1e6, r.saved.seconds);
    return 0;
  }
  if (command != "inspect" && command != "verify")
    throw glm::InputError(
        fmt::format("unknown command '{}': expected inspect, verify or reshard", command));
  if (dir.empty())
    throw glm::InputError(fmt::format("glm-ckpt {}: give a checkpoint DIR", command));

  const std::string path = glm::checkpoint::resolve_checkpoint_dir(
      dir, at_iter);
  CheckpointMeta meta = glm::checkpoint::read_checkpoint_meta(path);
  if (command == "inspect") {
    if (vm.count("json"))
      std::cout << meta.to_json().dump(2) << "\n";
    else
      print_inspect(path, meta);
    return 0;
  }
  glm::checkpoint::verify_checkpoint_files(path, meta);
  glm::checkpoint::verify_checkpoint_pieces(path, meta);
  const std::string meta_path = (std::filesystem::path(path) / glm::checkpoint::kMetaFile).string();
  glm::config::parse_run_config(meta.config.dump(), meta_path + " (config)");
  std::cout << fmt::format(
      "OK {}: step {}, {} file(s), {} tensors, {:.1f} MB; checksums, "
      "shapes, pieces and config verified\n",
      path, meta.step, meta.files.size(), meta.tensors.size(), meta.total_bytes() / 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("[glm-ckpt] %^%l%$: %v");
  return glm::apps::guarded_main([&] { return run(argc, argv); });
}
