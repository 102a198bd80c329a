#include "data/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace glm::data {
namespace {

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// 1234567 -> "1.23M"
std::string si(double v) {
  if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

}  // namespace

Progress::Progress(std::string label, std::int64_t total_items)
    : label_(std::move(label)),
      total_(total_items),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::int64_t items, std::int64_t tokens) {
  items_ = items;
  tokens_ = tokens;
  const auto now = std::chrono::steady_clock::now();
  const double interval = tty_ ? 0.1 : 5.0;
  if (seconds(now - last_draw_) < interval) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish(std::int64_t items, std::int64_t tokens) {
  items_ = items;
  tokens_ = tokens;
  draw(true);
}

void Progress::draw(bool final) {
  const double t = std::max(1e-9, seconds(std::chrono::steady_clock::now() - start_));
  const double frac = total_ > 0 ? static_cast<double>(items_) / total_ : 1.0;
  const std::string rates = fmt::format("{} docs/s, {} tokens/s", si(items_ / t), si(tokens_ / t));
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(filled, '=');
    if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld docs, %s tokens, %s   %s", label_.c_str(),
                 bar.c_str(), static_cast<long long>(items_), static_cast<long long>(total_),
                 si(tokens_).c_str(), rates.c_str(), final ? "\n" : "");
    std::fflush(stderr);
  } else if (!final) {
    spdlog::info("{}: {}/{} docs ({:.0f}%), {} tokens, {}", label_, items_, total_, 100 * frac,
                 si(tokens_), rates);
  }
}

}  // namespace glm::data
