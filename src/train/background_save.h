// A checkpoint written by a writer thread while training goes on (train.save_mode "async"):
// the host snapshot of this rank's optimizer state it writes, the thread, and whether it has
// finished. The trainer starts one after the collective first phase of a save
// (checkpoint::PhasedSave::begin), asks at each step end whether every rank's writer has
// finished, and then publishes it (PhasedSave::finish, collective) on the main thread: MPI
// and NCCL calls stay on the main thread, the writer thread only writes, fsyncs and hashes.
//
//   auto bg = std::make_unique<BackgroundSave>(std::move(phased), snapshot, blocked_s);
//   ... steps ...; if (bg->written() on every rank) SaveResult r = bg->finish();
#pragma once

#include <atomic>
#include <thread>

#include "checkpoint/checkpoint.h"

namespace glm::train {

class BackgroundSave {
 public:
  // snapshot: host tensors the writer reads; they must not change until finish() returns.
  BackgroundSave(checkpoint::PhasedSave save, checkpoint::OptimizerTensors snapshot,
                 double blocked_seconds);
  // Joins the writer. A save never finished leaves its iter_X.tmp/ unpublished, which the
  // next save removes.
  ~BackgroundSave();
  BackgroundSave(const BackgroundSave&) = delete;
  BackgroundSave& operator=(const BackgroundSave&) = delete;

  bool written() const { return written_.load(); }  // this rank's writer is done (local)
  // Waits for the writer, then publishes (collective): SaveError on every rank on failure.
  checkpoint::SaveResult finish();
  std::int64_t step() const { return save_.step(); }
  double blocked_seconds() const { return blocked_seconds_; }

 private:
  checkpoint::PhasedSave save_;
  checkpoint::OptimizerTensors snapshot_;
  double blocked_seconds_;
  std::atomic<bool> written_{false};
  std::thread writer_;
};

}  // namespace glm::train
