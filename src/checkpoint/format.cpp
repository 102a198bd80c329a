// meta.json of a checkpoint (checkpoint/format.h): writing and strict reading.
#include "checkpoint/format.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm::checkpoint {

std::string iter_dir_name(std::int64_t step) { return fmt::format("iter_{:08d}", step); }

std::string rank_file_name(int rank) { return fmt::format("rank_{:05d}.h5", rank); }

std::int64_t parse_iter_dir_name(const std::string& name) {
  const std::string prefix = "iter_";
  if (name.size() < prefix.size() + 8 || name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::int64_t step = 0;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i])) || step > (INT64_MAX - 9) / 10)
      return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

std::int64_t CheckpointMeta::total_bytes() const {
  std::int64_t n = 0;
  for (const auto& f : files) n += f.bytes;
  return n;
}

nlohmann::json CheckpointMeta::to_json() const {
  nlohmann::json tensors_j = nlohmann::json::array();
  for (const auto& t : tensors)
    tensors_j.push_back({{"name", t.name}, {"global_shape", t.global_shape}, {"dtype", "f32"}});
  nlohmann::json files_j = nlohmann::json::array();
  for (const auto& f : files) {
    nlohmann::json pieces = nlohmann::json::array();
    for (const auto& p : f.pieces)
      pieces.push_back({{"name", p.name},
                        {"global_shape", p.global_shape},
                        {"offset", p.offset},
                        {"shape", p.shape},
                        {"flat_range", {p.flat_begin, p.flat_end}}});
    files_j.push_back({{"name", f.name},
                       {"rank", f.rank},
                       {"bytes", f.bytes},
                       {"sha256", f.sha256},
                       {"pieces", pieces}});
  }
  nlohmann::json j = {
      {"format", kCheckpointFormat},
      {"version", kCheckpointVersion},
      {"step", step},
      {"consumed_samples", consumed_samples},
      {"skipped_steps", skipped_steps},
      {"adamw_steps", adamw_steps},
      {"rng",
       {{"generator", "Philox4x32-10, counter-based"},
        {"seed", seed},
        {"step", step},
        {"note",
         "every random number is keyed by (seed, purpose, step, global sample index, "
         "coordinates): seed and step are the whole RNG state"}}},
      {"sampler",
       {{"consumed_samples", consumed_samples},
        {"note",
         "stateless: the global sample stream is a seeded permutation per epoch, so "
         "consumed_samples is the sampler state"}}},
      {"schedule", schedule},
      {"loss_scaler", loss_scaler},
      {"spike_guard", spike_guard},
      {"layout",
       {{"world_size", layout.world_size},
        {"dp", layout.dp},
        {"tp", layout.tp},
        {"pp", layout.pp},
        {"zero", layout.zero}}},
      {"lineage",
       {{"parent_step", parent_step},
        {"resumed_from", resumed_from},
        {"note",
         "parent_step: the checkpoint this run continued from (-1: a fresh start); keep_last "
         "prunes along this chain only"}}},
      {"config", config},
      {"tensors", tensors_j},
      {"files", files_j},
  };
  if (!data.is_null()) j["data"] = data;
  return j;
}

namespace {

// Typed access to meta.json that names the file and the key on any problem.
class MetaReader {
 public:
  explicit MetaReader(std::string source) : source_(std::move(source)) {}

  const nlohmann::json& at(const nlohmann::json& j, const std::string& key,
                           const std::string& where) const {
    if (!j.is_object() || !j.contains(key))
      throw InputError(fmt::format("{}: missing key '{}{}'", source_, where, key));
    return j.at(key);
  }
  std::int64_t integer(const nlohmann::json& j, const std::string& key,
                       const std::string& where = "", std::int64_t lo = 0) const {
    const auto& v = at(j, key, where);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo)
      throw InputError(fmt::format("{}: '{}{}' must be an integer >= {}, got {}", source_, where,
                                   key, lo, v.dump()));
    return v.get<std::int64_t>();
  }
  std::string string(const nlohmann::json& j, const std::string& key,
                     const std::string& where = "") const {
    const auto& v = at(j, key, where);
    if (!v.is_string())
      throw InputError(
          fmt::format("{}: '{}{}' must be a string, got {}", source_, where, key, v.dump()));
    return v.get<std::string>();
  }
  Shape shape(const nlohmann::json& j, const std::string& key, const std::string& where) const {
    const auto& v = at(j, key, where);
    Shape s;
    if (!v.is_array()) bad_shape(where + key, v);
    for (const auto& x : v) {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 0) bad_shape(where + key, v);
      s.push_back(x.get<std::int64_t>());
    }
    return s;
  }
  const nlohmann::json& array(const nlohmann::json& j, const std::string& key,
                              const std::string& where = "") const {
    const auto& v = at(j, key, where);
    if (!v.is_array())
      throw InputError(
          fmt::format("{}: '{}{}' must be a list, got {}", source_, where, key, v.dump()));
    return v;
  }
  template <class T>
  T state(const nlohmann::json& j, const std::string& key) const {
    try {
      return at(j, key, "").get<T>();
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: '{}': {}", source_, key, e.what()));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: '{}': {}", source_, key, e.what()));
    }
  }

 private:
  [[noreturn]] void bad_shape(const std::string& key, const nlohmann::json& v) const {
    throw InputError(fmt::format("{}: '{}' must be a list of non-negative integers, got {}",
                                 source_, key, v.dump()));
  }
  std::string source_;
};

}  // namespace

CheckpointMeta CheckpointMeta::from_json(const nlohmann::json& j, const std::string& source) {
  MetaReader r(source);
  if (!j.is_object()) throw InputError(fmt::format("{}: not a JSON object", source));
  std::string format = r.string(j, "format");
  if (format != kCheckpointFormat)
    throw InputError(fmt::format("{}: format '{}' is not '{}'", source, format, kCheckpointFormat));
  std::int64_t version = r.integer(j, "version");
  if (version != kCheckpointVersion)
    throw InputError(
        fmt::format("{}: checkpoint format version {} is not supported (this build "
                    "reads version {})",
                    source, version, kCheckpointVersion));
  CheckpointMeta m;
  m.step = r.integer(j, "step");
  m.consumed_samples = r.integer(j, "consumed_samples");
  m.skipped_steps = r.integer(j, "skipped_steps");
  m.adamw_steps = r.integer(j, "adamw_steps");
  m.seed = static_cast<std::uint64_t>(r.integer(r.at(j, "rng", ""), "seed", "rng."));
  m.loss_scaler = r.state<checkpoint::LossScalerState>(j, "loss_scaler");
  m.spike_guard = r.state<checkpoint::SpikeGuardState>(j, "spike_guard");
  m.schedule = r.at(j, "schedule", "");
  m.has_lineage = j.contains("lineage");  // absent in checkpoints written before it
  if (m.has_lineage) {
    const auto& lin = r.at(j, "lineage", "");
    m.parent_step = r.integer(lin, "parent_step", "lineage.", -1);
    m.resumed_from = r.integer(lin, "resumed_from", "lineage.", -1);
  }
  if (j.contains("data")) m.data = j["data"];
  m.config = r.at(j, "config", "");
  if (!m.config.is_object())
    throw InputError(fmt::format("{}: 'config' must be an object", source));
  const auto& lay = r.at(j, "layout", "");
  m.layout = {static_cast<int>(r.integer(lay, "world_size", "layout.", 1)),
              static_cast<int>(r.integer(lay, "dp", "layout.", 1)),
              static_cast<int>(r.integer(lay, "tp", "layout.", 1)),
              static_cast<int>(r.integer(lay, "pp", "layout.", 1)),
              static_cast<int>(r.integer(lay, "zero", "layout."))};
  if (m.layout.world_size != m.layout.dp * m.layout.tp * m.layout.pp)
    throw InputError(
        fmt::format("{}: layout.world_size {} != dp*tp*pp", source, m.layout.world_size));
  for (const auto& t : r.array(j, "tensors"))
    m.tensors.push_back(
        {r.string(t, "name", "tensors[]."), r.shape(t, "global_shape", "tensors[].")});
  for (const auto& f : r.array(j, "files")) {
    CheckpointFile file;
    file.name = r.string(f, "name", "files[].");
    const std::string where = "files[" + file.name + "].";
    file.rank = static_cast<int>(r.integer(f, "rank", where));
    file.bytes = r.integer(f, "bytes", where);
    file.sha256 = r.string(f, "sha256", where);
    if (file.name.find('/') != std::string::npos || file.name.empty() || file.name[0] == '.')
      throw InputError(fmt::format("{}: file name '{}' is not a plain name", source, file.name));
    for (const auto& p : r.array(f, "pieces", where)) {
      TensorPiece piece;
      piece.name = r.string(p, "name", where + "pieces[].");
      const std::string pw = where + piece.name + ".";
      piece.global_shape = r.shape(p, "global_shape", pw);
      piece.offset = r.shape(p, "offset", pw);
      piece.shape = r.shape(p, "shape", pw);
      Shape range = r.shape(p, "flat_range", pw);
      if (range.size() != 2 || range[0] > range[1] || range[1] > shape_numel(piece.shape))
        throw InputError(fmt::format("{}: '{}flat_range' {} lies outside the block {}", source, pw,
                                     shape_str(range), shape_str(piece.shape)));
      piece.flat_begin = range[0];
      piece.flat_end = range[1];
      file.pieces.push_back(std::move(piece));
    }
    m.files.push_back(std::move(file));
  }
  // DP rank 0 of each TP x PP position writes (the DP replicas hold the same state), or with
  // ZeRO-1 over dp > 1 every rank writes its shard.
  if (m.layout.world_size != m.layout.dp * m.layout.tp * m.layout.pp)
    throw InputError(fmt::format("{}: layout world_size {} != dp {} x tp {} x pp {}", source,
                                 m.layout.world_size, m.layout.dp, m.layout.tp, m.layout.pp));
  const bool sharded = m.layout.zero && m.layout.dp > 1;
  const int writers = m.layout.tp * m.layout.pp * (sharded ? m.layout.dp : 1);
  if (static_cast<int>(m.files.size()) != writers)
    throw InputError(fmt::format("{}: {} rank files listed; a layout with dp {} tp {} x pp {}{} "
                                 "writes {}",
                                 source, m.files.size(), m.layout.dp, m.layout.tp, m.layout.pp,
                                 sharded ? " and ZeRO-1" : "", writers));
  return m;
}

}  // namespace glm::checkpoint
