#include "train/hang_watchdog.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "core/heartbeat.h"

namespace glm::train {
namespace fs = std::filesystem;

namespace {
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

HangWatchdog::HangWatchdog(double timeout_s, int rank, std::string dir,
                           std::function<void(const std::string&)> abort)
    : timeout_s_(timeout_s),
      rank_(rank),
      dir_((fs::path(dir) / "heartbeat").string()),
      abort_(std::move(abort)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  thread_ = std::thread([this] { run(); });
}

HangWatchdog::~HangWatchdog() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HangWatchdog::run() {
  const auto period = std::chrono::duration<double>(std::min(1.0, timeout_s_ / 4));
  const std::string mine = (fs::path(dir_) / fmt::format("rank_{:05d}", rank_)).string();
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return done_; })) {
    const HeartbeatState s = heartbeat_state();
    {  // rank, phase, detail, the wall time the phase's last mark was made (atomic replace)
      std::ofstream out(mine + ".tmp", std::ios::trunc);
      out << rank_ << ' ' << phase_name(s.phase) << ' ' << s.detail << ' '
          << fmt::format("{:.3f}", wall_seconds() - s.seconds_since) << '\n';
      out.close();
      std::error_code ec;
      if (out) fs::rename(mine + ".tmp", mine, ec);
    }
    if (s.seconds_since > timeout_s_) {
      abort_(fmt::format("hang: rank {} made no progress for {:.0f} s (--hang-timeout {:g}) in "
                         "phase {}{}; every rank's phase (those outside a collective first, then the longest in "
                         "it): {}",
                         rank_, s.seconds_since, timeout_s_, phase_name(s.phase),
                         s.detail >= 0 ? fmt::format(" (layer {})", s.detail) : "", report()));
      return;
    }
  }
}

std::string HangWatchdog::report() const {
  struct Row {
    int rank;
    std::string phase;
    int detail;
    double since;
  };
  std::vector<Row> rows;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() == ".tmp") continue;
    std::ifstream in(e.path());
    Row r{};
    if (in >> r.rank >> r.phase >> r.detail >> r.since) rows.push_back(r);
  }
  // A rank in a reduction is usually waiting for the others: the ones outside a collective
  // come first, then the longest in its phase.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    const bool wa = a.phase == "reduction", wb = b.phase == "reduction";
    return wa != wb ? !wa : a.since < b.since;
  });
  const double now = wall_seconds();
  std::string out;
  for (const Row& r : rows)
    out += fmt::format("{}rank {} {}{} for {:.0f} s", out.empty() ? "" : ", ", r.rank, r.phase,
                       r.detail >= 0 ? fmt::format(" (layer {})", r.detail) : "", now - r.since);
  return out.empty() ? "(no rank published its phase)" : out;
}

}  // namespace glm::train
