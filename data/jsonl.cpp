#include "data/jsonl.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
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

// A source of decompressed bytes: read(buf, n) returns how many it wrote (0 at the end).
using ReadBlock = std::function<std::size_t(char*, std::size_t)>;

// A plain or gzip file through zlib (which reads a plain file through the same calls).
ReadBlock gzip_reader(const std::string& path) {
  std::shared_ptr<gzFile_s> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw InputError(fmt::format("{}: cannot open ({})", path, std::strerror(errno)));
  return [f, path](char* buf, std::size_t n) -> std::size_t {
    const int got = gzread(f.get(), buf, static_cast<unsigned>(n));
    if (got < 0) {
      int err = 0;
      throw InputError(fmt::format("{}: cannot read: {}", path, gzerror(f.get(), &err)));
    }
    return static_cast<std::size_t>(got);
  };
}

// A zstd file (*.zst), streamed through ZSTD_decompressStream.
ReadBlock zstd_reader(const std::string& path) {
  std::shared_ptr<std::FILE> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw InputError(fmt::format("{}: cannot open ({})", path, std::strerror(errno)));
  std::shared_ptr<ZSTD_DStream> z(ZSTD_createDStream(), ZSTD_freeDStream);
  ZSTD_initDStream(z.get());
  auto in_buf = std::make_shared<std::string>(ZSTD_DStreamInSize(), '\0');
  auto in = std::make_shared<ZSTD_inBuffer>(ZSTD_inBuffer{in_buf->data(), 0, 0});
  auto last = std::make_shared<std::size_t>(0);  // ZSTD_decompressStream's last hint
  return [f, z, in_buf, in, last, path](char* buf, std::size_t n) -> std::size_t {
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos == 0) {
      if (in->pos == in->size) {
        const std::size_t got = std::fread(in_buf->data(), 1, in_buf->size(), f.get());
        if (got == 0) {
          if (std::ferror(f.get()))
            throw InputError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
          if (*last != 0)
            throw InputError(fmt::format("{}: truncated zstd stream", path));
          return 0;
        }
        *in = ZSTD_inBuffer{in_buf->data(), got, 0};
      }
      *last = ZSTD_decompressStream(z.get(), &out, in.get());
      if (ZSTD_isError(*last))
        throw InputError(
            fmt::format("{}: not a valid zstd stream ({})", path, ZSTD_getErrorName(*last)));
    }
    return out.pos;
  };
}

// Calls fn(line, line_number) for every line of a plain, gzip or zstd file, reading blocks
// of 1 MiB.
void for_each_line(const std::string& path, const std::function<void(std::string&, long)>& fn) {
  const ReadBlock read = ends_with(path, ".zst") ? zstd_reader(path) : gzip_reader(path);
  std::string pending, block(1 << 20, '\0');
  long line = 0;
  for (;;) {
    const std::size_t n = read(block.data(), block.size());
    if (n == 0) break;
    std::size_t start = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (block[i] == '\n') {
        pending.append(block, start, i - start);
        fn(pending, ++line);
        pending.clear();
        start = i + 1;
      }
    pending.append(block, start, n - start);
  }
  if (!pending.empty()) fn(pending, ++line);
}

}  // namespace

bool is_jsonl(const std::string& path) {
  for (const char* ext : {".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst"})
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
