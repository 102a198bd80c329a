#include "train/comm_log.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace glm::train {

CommLog::CommLog(const std::string& log_dir, int world_rank, const parallel::ProcessGroups* groups)
    : groups_(groups) {
  const auto path =
      std::filesystem::path(log_dir) / fmt::format("comm_rank_{:05d}.jsonl", world_rank);
  std::filesystem::create_directories(path.parent_path());
  out_.open(path, std::ios::app);
}

std::vector<CommLog::GroupTraffic> CommLog::traffic() const {
  std::vector<GroupTraffic> out;
  if (!groups_) return out;
  const auto& g = *groups_;
  for (const parallel::Communicator* c :
       {g.tp.get(), g.dp.get(), g.pp.get(), g.embedding.get(), g.world.get()})
    if (c) out.push_back({c->name(), c->stats().total_bytes_sent(), c->stats().seconds});
  return out;
}

void CommLog::begin_step() { before_ = traffic(); }

void CommLog::end_step(std::int64_t step, std::int64_t head_rows, double step_s,
                       double compute_s) {
  nlohmann::json bytes = nlohmann::json::object(), secs = nlohmann::json::object();
  const auto after = traffic();
  for (std::size_t g = 0; g < after.size(); ++g) {
    bytes[after[g].group] = after[g].bytes - before_[g].bytes;
    secs[after[g].group] = after[g].seconds - before_[g].seconds;
  }
  out_ << nlohmann::json{{"step", step},      {"head_rows", head_rows}, {"step_s", step_s},
                         {"compute_s", compute_s}, {"bytes", bytes},     {"comm_s", secs}}
              .dump()
       << '\n'
       << std::flush;
}

}  // namespace glm::train
