#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace glm {
namespace {

constexpr double kRedrawS = 0.5;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Progress::Progress(std::string what, std::int64_t total, double quiet_s)
    : what_(std::move(what)),
      total_(total),
      quiet_s_(quiet_s),
      start_(now_s()),
      terminal_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::int64_t n) {
  done_ += n;
  if (!terminal_) return;
  const double now = now_s();
  if (now - start_ < quiet_s_ || now - last_draw_ < kRedrawS) return;
  draw(now);
}

void Progress::draw(double now) {
  const double elapsed = now - start_;
  const double pct = total_ > 0 ? 100.0 * done_ / total_ : 0;
  const double eta = done_ > 0 ? elapsed * (total_ - done_) / done_ : 0;
  std::fprintf(stderr, "\r%s %3.0f%% (%lld/%lld), %s elapsed, ETA %s   ", what_.c_str(), pct,
               static_cast<long long>(done_), static_cast<long long>(total_),
               format_duration(elapsed).c_str(), format_duration(eta).c_str());
  std::fflush(stderr);
  last_draw_ = now;
  drawn_ = true;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  const double elapsed = now_s() - start_;
  if (terminal_ && drawn_) {
    std::fprintf(stderr, "\r%s %lld/%lld in %s%*s\n", what_.c_str(), static_cast<long long>(done_),
                 static_cast<long long>(total_), format_duration(elapsed).c_str(), 24, "");
  } else if (!terminal_ && elapsed >= quiet_s_) {
    std::fprintf(stderr, "%s %lld/%lld in %s\n", what_.c_str(), static_cast<long long>(done_),
                 static_cast<long long>(total_), format_duration(elapsed).c_str());
  }
}

}  // namespace glm
