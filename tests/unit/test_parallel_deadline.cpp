// The watchdog that bounds NCCL's blocking set-up (parallel/deadline.h): it fires once the
// guarded scope outlives its time, and never after the scope has ended in time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "parallel/deadline.h"

namespace glm::parallel {
namespace {

using namespace std::chrono_literals;

TEST(Deadline, FiresWhenTheGuardedCallOutlivesIt) {
  std::atomic<int> fired{0};
  {
    Deadline d(0.05, [&] { ++fired; });
    // the "hung" call: it waits until the deadline fires (at most 60 s, so a loaded machine
    // that runs the watchdog late does not fail the test)
    const auto t0 = std::chrono::steady_clock::now();
    while (fired.load() == 0 && std::chrono::steady_clock::now() - t0 < 60s)
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(100ms);  // a second firing would show here
    EXPECT_EQ(fired.load(), 1);
  }
  EXPECT_EQ(fired.load(), 1);
}

TEST(Deadline, StaysSilentAndReturnsAtOnceWhenTheCallEndsInTime) {
  std::atomic<int> fired{0};
  const auto t0 = std::chrono::steady_clock::now();
  { Deadline d(30.0, [&] { ++fired; }); }
  // Disarming wakes the watchdog: the scope does not wait out the 30 s.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(fired.load(), 0);
}

}  // namespace
}  // namespace glm::parallel
