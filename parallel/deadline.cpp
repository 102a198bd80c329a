#include "parallel/deadline.h"

#include <chrono>

namespace glm::parallel {

Deadline::Deadline(double seconds, std::function<void()> on_expiry) {
  watchdog_ = std::thread([this, seconds, fire = std::move(on_expiry)] {
    std::unique_lock lock(mu_);
    const bool disarmed =
        cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; });
    if (!disarmed) fire();
  });
}

Deadline::~Deadline() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  watchdog_.join();
}

}  // namespace glm::parallel
