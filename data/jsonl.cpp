#include "data/jsonl.h"

#include <zlib.h>

#include <cstdio>
#include <functional>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Calls fn(line, line_number) for every line of a plain or gzip file, reading blocks of
// 1 MiB (zlib reads a plain file through the same calls).
void for_each_line(const std::string& path, const std::function<void(std::string&, long)>& fn) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw InputError(fmt::format("{}: cannot open ({})", path, std::strerror(errno)));
  std::string pending, block(1 << 20, '\0');
  long line = 0;
  for (;;) {
    const int n = gzread(f.get(), block.data(), static_cast<unsigned>(block.size()));
    if (n < 0) {
      int err = 0;
      throw InputError(fmt::format("{}: cannot read: {}", path, gzerror(f.get(), &err)));
    }
    if (n == 0) break;
    std::size_t start = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i)
      if (block[i] == '\n') {
        pending.append(block, start, i - start);
        fn(pending, ++line);
        pending.clear();
        start = i + 1;
      }
    pending.append(block, start, static_cast<std::size_t>(n) - start);
  }
  if (!pending.empty()) fn(pending, ++line);
}

}  // namespace

bool is_jsonl(const std::string& path) {
  for (const char* ext : {".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"})
    if (ends_with(path, ext)) return true;
  return false;
}

std::vector<std::string> read_jsonl_documents(const std::string& path, const std::string& key) {
  std::vector<std::string> docs;
  for_each_jsonl_document(path, key, [&](std::string&& text) { docs.push_back(std::move(text)); });
  return docs;
}

void for_each_jsonl_document(const std::string& path, const std::string& key,
                             const std::function<void(std::string&&)>& fn) {
  for_each_line(path, [&](std::string& line, long number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);  // also checks that the strings are valid UTF-8
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}:{}: not a JSON line ({})", path, number, e.what()));
    }
    if (!j.is_object())
      throw InputError(fmt::format("{}:{}: expected a JSON object, got {}", path, number,
                                   j.type_name()));
    const auto it = j.find(key);
    if (it == j.end())
      throw InputError(fmt::format("{}:{}: no \"{}\" key (--jsonl-key names the text's key)",
                                   path, number, key));
    if (!it->is_string())
      throw InputError(fmt::format("{}:{}: \"{}\" holds a {}, not text", path, number, key,
                                   it->type_name()));
    std::string text = it->get<std::string>();
    if (!text.empty()) fn(std::move(text));
  });
}

}  // namespace glm::data
