#include "data/corpus.h"
#include "data/jsonl.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/atomic_file.h"
#include "data/utf8.h"

namespace glm::data {
namespace fs = std::filesystem;

namespace {

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

// Trims a document: leading blank lines go (the first line's indentation stays, since
// ASCII art and poems use it), trailing whitespace goes.
std::string trim_document(std::string_view doc) {
  std::size_t start = 0;
  while (start < doc.size()) {
    std::size_t eol = doc.find('\n', start);
    std::string_view line = doc.substr(start, eol == std::string_view::npos ? eol : eol - start);
    if (!is_blank(line) || eol == std::string_view::npos) break;
    start = eol + 1;
  }
  std::size_t end = doc.find_last_not_of(" \t\r\n\f\v");
  if (end == std::string_view::npos || end < start) return {};
  return std::string(doc.substr(start, end + 1 - start));
}

// Calls fn(line) for each line of text without its '\n'.
template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) eol = text.size();
    fn(text.substr(start, eol - start), start);
    start = eol + 1;
  }
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw InputError(fmt::format("{}: is a directory, not a text file", path));
  if (!fs::exists(path, ec)) throw InputError(fmt::format("{}: no such input file", path));
  return read_file_bytes(path);
}

}  // namespace

std::string strip_terminal_codes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0x1B) {  // ESC
      if (i + 1 < text.size() && text[i + 1] == '[') {
        // CSI: ESC [ parameter/intermediate bytes (0x20..0x3F) final byte (0x40..0x7E)
        std::size_t j = i + 2;
        while (j < text.size() && static_cast<unsigned char>(text[j]) >= 0x20 &&
               static_cast<unsigned char>(text[j]) <= 0x3F)
          ++j;
        i = j < text.size() ? j : text.size() - 1;  // skip the final byte too
      } else if (i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80) {
        ++i;  // a two-character escape (ESC c)
      }
      continue;
    }
    if (c == '\b') {  // overstrike: the code point before it is printed over; drop it
      if (!out.empty() && out.back() != '\n') {
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
          out.pop_back();  // continuation bytes of a multi-byte code point
        if (!out.empty()) out.pop_back();
      }
      continue;
    }
    if (c < 0x20 && c != '\n' && c != '\t') continue;  // CR, form feed, bell, NUL, ...
    if (c == 0x7F) continue;                           // DEL
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::vector<std::string> split_documents(std::string_view text) {
  // Fortune format iff some line is exactly "%" (a CRLF file's "%\r" counts too).
  bool fortune = false;
  for_each_line(text, [&](std::string_view line, std::size_t) {
    if (line == "%" || line == "%\r") fortune = true;
  });
  std::vector<std::string> docs;
  std::size_t doc_start = 0;
  auto close_doc = [&](std::size_t end) {
    std::string d = trim_document(text.substr(doc_start, end - doc_start));
    if (!d.empty()) docs.push_back(std::move(d));
  };
  for_each_line(text, [&](std::string_view line, std::size_t pos) {
    bool separator = fortune ? (line == "%" || line == "%\r") : is_blank(line);
    if (!separator) return;
    close_doc(pos);
    doc_start = std::min(text.size(), pos + line.size() + 1);
  });
  close_doc(text.size());
  return docs;
}

std::vector<std::string> read_documents(const std::string& path, const CorpusOptions& options) {
  std::vector<std::string> docs;
  for_each_file_document(path, options, [&](std::string&& d) { docs.push_back(std::move(d)); });
  return docs;
}

void for_each_file_document(const std::string& path, const CorpusOptions& options,
                            const std::function<void(std::string&&)>& fn) {
  if (is_jsonl(path)) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw InputError(fmt::format("{}: no such input file", path));
    std::int64_t n = 0;
    for_each_jsonl_document(path, options.jsonl_key, [&](std::string&& text) {
      std::string d = options.strip_terminal_codes ? strip_terminal_codes(text) : std::move(text);
      if (d.find_first_not_of(" \t\r\n") == std::string::npos) return;
      ++n;
      fn(std::move(d));
    });
    if (n == 0) throw InputError(fmt::format("{}: contains no document (no text)", path));
    return;
  }
  std::string raw = read_file(path);
  std::string_view text = raw;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // byte-order mark
  if (std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
    throw InputError(fmt::format("{}:{}: invalid UTF-8 (byte 0x{:02X} at offset {})", path,
                                 line_of(text, bad), static_cast<unsigned char>(text[bad]),
                                 bad + (raw.size() - text.size())));
  std::vector<std::string> docs = options.strip_terminal_codes
                                      ? split_documents(strip_terminal_codes(text))
                                      : split_documents(text);
  if (docs.empty()) throw InputError(fmt::format("{}: contains no document (no text)", path));
  for (std::string& d : docs) fn(std::move(d));
}

Corpus read_corpus(const std::vector<std::string>& paths, const CorpusOptions& options) {
  Corpus corpus;
  corpus.sources = paths;
  for_each_document(paths, options,
                    [&](Document&& d) { corpus.documents.push_back(std::move(d)); });
  return corpus;
}

void for_each_document(const std::vector<std::string>& paths, const CorpusOptions& options,
                       const std::function<void(Document&&)>& fn) {
  if (paths.empty()) throw InputError("no input files given");
  for (std::size_t i = 0; i < paths.size(); ++i)
    for_each_file_document(paths[i], options, [&](std::string&& d) {
      fn(Document{std::move(d), static_cast<int>(i)});
    });
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    fs::file_status st = fs::status(input, ec);
    if (!fs::exists(st))
      throw InputError(fmt::format("{}: no such input file or directory", input));
    if (!fs::is_directory(st)) {
      files.push_back(input);
      continue;
    }
    std::set<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(input, ec)) {
      const fs::path& p = e.path();
      if (e.is_symlink() || !e.is_regular_file()) continue;
      if (p.filename().string().starts_with(".")) continue;
      names.insert(p.filename().string());
    }
    if (ec) throw InputError(fmt::format("{}: cannot list directory: {}", input, ec.message()));
    std::vector<std::string> kept;
    for (const std::string& name : names) {
      // strfile's index X.dat sits next to the fortune file X: binary, not text.
      if (name.size() > 4 && name.ends_with(".dat") && names.count(name.substr(0, name.size() - 4)))
        continue;
      kept.push_back((fs::path(input) / name).string());
    }
    if (kept.empty()) throw InputError(fmt::format("{}: directory holds no input files", input));
    files.insert(files.end(), kept.begin(), kept.end());
  }
  return files;
}

}  // namespace glm::data
