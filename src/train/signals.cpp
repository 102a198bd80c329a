#include "train/signals.h"

#include <atomic>
#include <pthread.h>

#include <csignal>
#include <thread>

namespace glm::train {
namespace {

// Lock-free atomics are async-signal-safe (std::sig_atomic_t would do as well).
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, sig);  // keep the first signal
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
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread created later
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) == 0) on_stop_signal(sig);
    }
  }).detach();
}

int stop_signal_received() { return g_stop_signal.load(); }
void clear_stop_signal() { g_stop_signal.store(0); }

const char* stop_signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : "signal";
}

struct StopSignalGuard::Saved {
  struct sigaction term, usr1;
};

StopSignalGuard::StopSignalGuard() : saved_(std::make_unique<Saved>()) {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a blocking read or write in the step resumes
  sigaction(SIGTERM, &sa, &saved_->term);
  sigaction(SIGUSR1, &sa, &saved_->usr1);
}

StopSignalGuard::~StopSignalGuard() {
  sigaction(SIGTERM, &saved_->term, nullptr);
  sigaction(SIGUSR1, &saved_->usr1, nullptr);
}

}  // namespace glm::train
