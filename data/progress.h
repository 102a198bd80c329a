// Progress of a long loop on stderr: a redrawn bar when stderr is a terminal, otherwise one
// log line every few seconds (so CI logs and redirected output stay readable).
//
//   Progress p("encode", total_docs);
//   while (...) p.update(docs_done, tokens_done);   // cheap; redraws at most 10x a second
//   p.finish(docs_done, tokens_done);               // final line with the totals
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace glm::data {

class Progress {
 public:
  Progress(std::string label, std::int64_t total_items);
  void update(std::int64_t items, std::int64_t tokens);
  void finish(std::int64_t items, std::int64_t tokens);

 private:
  void draw(bool final);
  std::string label_;
  std::int64_t total_, items_ = 0, tokens_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace glm::data
