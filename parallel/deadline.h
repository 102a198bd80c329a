// A watchdog for a blocking call that has no timeout of its own (ncclCommInitRank blocks
// until every peer joins; a dead peer would hang it for ever). Armed for `seconds`; if the
// guarded scope has not ended by then, `on_expiry` runs on the watchdog's thread (the NCCL
// set-up logs the rank and group and aborts the job). Leaving the scope disarms it.
//
//   { Deadline d(timeout_s, [&] { spdlog::error(...); MPI_Abort(MPI_COMM_WORLD, 3); });
//     ncclCommInitRank(...); }
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace glm::parallel {

class Deadline {
 public:
  Deadline(double seconds, std::function<void()> on_expiry);
  ~Deadline();  // disarms and joins the watchdog
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watchdog_;
};

}  // namespace glm::parallel
