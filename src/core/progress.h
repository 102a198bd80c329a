// Progress of long work (export, evaluation, checkpoint verify/reshard) on stderr.
//
//   glm::Progress progress("glm-eval: samples", n);
//   for (...) { ...; progress.advance(); }
//   progress.finish();                // or let the destructor do it
//
// Quiet for the first few seconds (short work prints nothing). Then, on a terminal, one line
// redrawn at most twice a second: "glm-eval: samples 45% (450/1000), 12s elapsed, ETA 15s".
// To a non-terminal (a log file, CI), nothing while running and one summary line at the end
// ("glm-eval: samples 1000/1000 in 27s"), so logs are not flooded.
#pragma once

#include <cstdint>
#include <string>

namespace glm {

class Progress {
 public:
  Progress(std::string what, std::int64_t total, double quiet_s = 3.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n = 1);
  void finish();

 private:
  void draw(double now);
  std::string what_;
  std::int64_t total_, done_ = 0;
  double quiet_s_, start_, last_draw_ = -1;
  bool terminal_, drawn_ = false, finished_ = false;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "42s"; "?" if not finite

}  // namespace glm
