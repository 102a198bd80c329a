#include "core/heartbeat.h"

#include <atomic>
#include <chrono>

namespace glm {
namespace {

std::atomic<int> g_phase{static_cast<int>(Phase::setup)};
std::atomic<int> g_detail{-1};
std::atomic<std::int64_t> g_last_ns{0};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::setup: return "setup";
    case Phase::data: return "data";
    case Phase::forward: return "forward";
    case Phase::backward: return "backward";
    case Phase::reduction: return "reduction";
    case Phase::optimizer: return "optimizer";
    case Phase::save: return "save";
    case Phase::evaluation: return "evaluation";
  }
  return "?";
}

void heartbeat(Phase phase, int detail) {
  g_phase.store(static_cast<int>(phase), std::memory_order_relaxed);
  g_detail.store(detail, std::memory_order_relaxed);
  g_last_ns.store(now_ns(), std::memory_order_relaxed);
}

HeartbeatState heartbeat_state() {
  std::int64_t last = g_last_ns.load(std::memory_order_relaxed);
  if (last == 0) {  // no mark yet: count from the first look
    std::int64_t none = 0;
    g_last_ns.compare_exchange_strong(none, now_ns());
    last = g_last_ns.load(std::memory_order_relaxed);
  }
  return {static_cast<Phase>(g_phase.load(std::memory_order_relaxed)),
          g_detail.load(std::memory_order_relaxed), (now_ns() - last) * 1e-9};
}

}  // namespace glm
