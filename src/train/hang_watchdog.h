// The hang watchdog (glm-train --hang-timeout): a thread per rank that publishes the rank's
// phase (core/heartbeat.h) to <dir>/heartbeat/rank_RRRRR once a second and, when the rank
// has made no progress for `timeout` seconds, ends the job through `abort` with a message
// naming every rank's phase and how long it has been in it: a stuck rank is one outside a
// reduction, the others are usually waiting for it in a collective.
// Ranks that share no file system each report only their own phase.
//
//   HangWatchdog w(600, rank, log_dir, [](const std::string& m) { ...; MPI_Abort(...); });
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace glm::train {

class HangWatchdog {
 public:
  HangWatchdog(double timeout_s, int rank, std::string dir,
               std::function<void(const std::string&)> abort);
  ~HangWatchdog();  // stops and joins the thread
  HangWatchdog(const HangWatchdog&) = delete;
  HangWatchdog& operator=(const HangWatchdog&) = delete;

 private:
  void run();
  std::string report() const;  // every published rank's phase, the suspects first

  double timeout_s_;
  int rank_;
  std::string dir_;  // <log dir>/heartbeat
  std::function<void(const std::string&)> abort_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace glm::train
