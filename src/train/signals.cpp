#include "train/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

namespace glm::train {
namespace {

std::atomic<StopSignals> g_stop_signals{0};

StopSignals bit_of(int sig) {
  return sig == SIGTERM ? kStopSigterm : sig == SIGUSR1 ? kStopSigusr1 : kStopSigint;
}

}  // namespace

void start_stop_signal_thread() {
  static bool started = false;
  if (started) return;
  started = true;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread created later
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      const StopSignals before = g_stop_signals.fetch_or(bit_of(sig));
      if (sig == SIGINT && (before & kStopSigint)) {
        static const char msg[] = "second SIGINT: stopping now, without a checkpoint\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(130);
      }
    }
  }).detach();
}

StopSignals stop_signals_received() { return g_stop_signals.load(); }

std::string stop_signals_name(StopSignals s) {
  std::string name;
  for (auto [bit, text] : {std::pair{kStopSigterm, "SIGTERM"}, {kStopSigusr1, "SIGUSR1"},
                           {kStopSigint, "SIGINT"}})
    if (s & bit) name += (name.empty() ? "" : "+") + std::string(text);
  return name;
}

}  // namespace glm::train
