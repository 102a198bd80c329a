// Graceful stop on SIGTERM / SIGUSR1 (DESIGN.md section 7): the handler only records the
// signal in a lock-free flag (async-signal-safe); the trainer checks it after each step,
// finishes that step, saves a checkpoint and returns, so the program exits 0.
//
//   StopSignalGuard guard;               // handlers installed for the guard's lifetime
//   while (...) { step(); if (stop_signal_received()) { save(); break; } }
//
// Under mpirun, send SIGUSR1 to mpirun: Open MPI forwards it to every rank and exits 0. A
// SIGTERM to mpirun reaches the ranks too (they save and exit 0), but mpirun then exits 1.
#pragma once

#include <memory>

namespace glm::train {

// The signal number received since the last clear (SIGTERM or SIGUSR1), or 0.
int stop_signal_received();
void clear_stop_signal();
const char* stop_signal_name(int sig);  // "SIGTERM", "SIGUSR1", else "signal"

// For programs: blocks SIGTERM and SIGUSR1 in the calling thread, so in every thread it
// creates afterwards (OpenMP workers, oneDNN, MPI's progress threads), and receives them on
// one dedicated thread with sigwait(), which records them like the handler does. Call it
// first thing in main(), before MPI_Init or any OpenMP region. Why: a handler runs on
// whichever thread the kernel picks and interrupts it mid-call (EINTR in a library that
// may not retry). What was observed, with the handler alone: glm-train stopped during a
// step aborted with glibc's "corrupted double-linked list" in about half of the runs. The
// handler itself only does a compare-and-swap on a lock-free atomic and cannot corrupt a
// heap; the cause was not found. With the signals blocked and taken by sigwait, no library
// thread is ever interrupted, and the abort has not been seen since.
void start_stop_signal_thread();

// Installs the handlers for SIGTERM and SIGUSR1 and restores the previous ones on
// destruction. A second signal while one is pending changes nothing (the step still ends).
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

 private:
  struct Saved;  // the previous handlers (keeps <csignal> out of this header)
  std::unique_ptr<Saved> saved_;
};

}  // namespace glm::train
