// Graceful stop on SIGTERM, SIGUSR1 and SIGINT (docs/design.md section 7). Programs take these
// signals on one dedicated thread (start_stop_signal_thread), which records them in a set;
// the trainer checks the set after each step, the ranks agree on the union of their sets,
// and every rank finishes that step, saves a checkpoint and returns, so the program exits 0.
// A second SIGINT (Ctrl-C pressed again) ends the process at once with exit 130.
//
//   int main() { start_stop_signal_thread(); MPI_Init(...); ... }   // first thing in main
//   while (...) { step(); if (stop_signals_received()) { save(); break; } }
//
// Under mpirun, send SIGUSR1 to mpirun: Open MPI forwards it to every rank and exits 0. A
// SIGTERM to mpirun reaches the ranks too (they save and exit 0), but mpirun then kills the
// job and may exit 1; launch/train.sh turns its own SIGTERM into SIGUSR1 for that reason.
#pragma once

#include <string>

namespace glm::train {

// A set of stop signals, one bit each.
using StopSignals = unsigned;
inline constexpr StopSignals kStopSigterm = 1, kStopSigusr1 = 2, kStopSigint = 4;

// The signals received since the program started (0: none).
StopSignals stop_signals_received();
std::string stop_signals_name(StopSignals s);  // "SIGTERM", "SIGTERM+SIGUSR1", "" for none

// Blocks SIGTERM, SIGUSR1 and SIGINT in the calling thread, so in every thread it creates
// afterwards (OpenMP workers, oneDNN, MPI's progress threads), and receives them on one
// dedicated thread with sigwait(), which adds them to the set. Call it first thing in
// main(), before MPI_Init or any OpenMP region: a thread created earlier keeps the default
// action (SIGTERM and SIGINT would end the process). Why a thread: a handler runs on
// whichever thread the kernel picks and interrupts it mid-call (EINTR in a library that
// may not retry). What was observed with a handler: glm-train stopped during a step
// aborted with glibc's "corrupted double-linked list" in about half of the runs. That
// handler only did a compare-and-swap on a lock-free atomic, which cannot corrupt a heap;
// the cause was not found. With the signals blocked and taken by sigwait, no library
// thread is ever interrupted, and the abort has not been seen since.
void start_stop_signal_thread();

}  // namespace glm::train
