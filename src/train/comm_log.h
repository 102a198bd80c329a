// The per-rank communication log of a training run (TrainerOptions::comm_log): one JSON line
// per step in <log_dir>/comm_rank_<RRRRR>.jsonl,
//   {"step", "head_rows", "step_s", "compute_s", "bytes": {group: bytes this rank sent
//    during the step}, "comm_s": {group: seconds inside that group's operations}}
// over the groups tp, dp, pp, embedding, world (the communicators' analytic byte counts;
// the layout tests compare them with the formulas; tests/bench/bench_parallel.sh sums times).
//
//   CommLog log(log_dir, world_rank, groups);
//   log.begin_step();  train_step();  log.end_step(step, head_rows, step_s, compute_s);
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "parallel/communicator.h"

namespace glm::train {

class CommLog {
 public:
  // Appends to the rank's file (directories created). groups: null for one process (the
  // lines then name no group).
  CommLog(const std::string& log_dir, int world_rank, const parallel::ProcessGroups* groups);

  void begin_step();  // the counters before the step
  void end_step(std::int64_t step, std::int64_t head_rows, double step_s, double compute_s);

 private:
  struct GroupTraffic {
    std::string group;
    std::uint64_t bytes = 0;
    double seconds = 0;
  };
  std::vector<GroupTraffic> traffic() const;  // each group's totals so far

  const parallel::ProcessGroups* groups_;
  std::ofstream out_;
  std::vector<GroupTraffic> before_;
};

}  // namespace glm::train
