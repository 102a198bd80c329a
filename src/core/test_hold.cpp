#include "core/test_hold.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

namespace glm {
namespace {

void touch(const std::string& path) { std::ofstream(path).put('\n'); }

// The release file of `point` in GLM_TEST_HOLD's list, or "" where it names no such point.
std::string release_file_of(std::string_view point, std::string_view holds) {
  while (!holds.empty()) {
    const auto comma = holds.find(',');
    const std::string_view hold = holds.substr(0, comma);
    const auto colon = hold.find(':');
    if (colon != std::string_view::npos && hold.substr(0, colon) == point)
      return std::string(hold.substr(colon + 1));
    if (comma == std::string_view::npos) break;
    holds.remove_prefix(comma + 1);
  }
  return {};
}

}  // namespace

void hold_if_testing(std::string_view what, std::int64_t step,
                     const std::function<bool()>& leave_early) {
  static const char* holds = std::getenv("GLM_TEST_HOLD");
  if (!holds) return;
  const std::string point = fmt::format("{}_{}", what, step);
  const std::string release = release_file_of(point, holds);
  if (release.empty()) return;
  spdlog::warn("GLM_TEST_HOLD: holding at {} until {} exists", point, release);
  touch(release + ".held." + std::to_string(::getpid()));
  while (!std::filesystem::exists(release)) {
    if (leave_early && leave_early()) {
      touch(release + ".left." + std::to_string(::getpid()));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace glm
