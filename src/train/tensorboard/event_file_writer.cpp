#include "train/tensorboard/event_file_writer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "train/tensorboard/event_encoding.h"

namespace glm::tensorboard {
namespace {

double wall_time_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// A name that does not exist yet in log_dir: two runs started in the same second (a resume
// right after a stop) get two files rather than one interleaved one.
std::string unused_event_path(const std::string& log_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  if (ec) throw InputError(fmt::format("--log-dir {}: cannot create: {}", log_dir, ec.message()));
  const std::string base =
      (fs::path(log_dir) / event_file_name(wall_time_s(), hostname())).string();
  std::string path = base;
  for (int n = 1; fs::exists(path); ++n) path = fmt::format("{}.{}", base, n);
  return path;
}

}  // namespace

std::string event_file_name(double unix_seconds, const std::string& host) {
  return fmt::format("events.out.tfevents.{}.{}", static_cast<long long>(std::floor(unix_seconds)),
                     host);
}

EventFileWriter::EventFileWriter(const std::string& log_dir) : file_(unused_event_path(log_dir)) {
  file_.append(encode_file_version_event(wall_time_s(), "brain.Event:2"));
}

void EventFileWriter::add_scalars(std::int64_t step,
                                  const std::vector<std::pair<std::string, double>>& values) {
  file_.append(encode_scalar_event(wall_time_s(), step, values));
}

void EventFileWriter::add_text(std::int64_t step, const std::string& tag, const std::string& text) {
  file_.append(encode_text_event(wall_time_s(), step, tag, text));
}

}  // namespace glm::tensorboard
