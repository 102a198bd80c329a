// Corpus reading: fortune and paragraph splitting, terminal-code stripping, strict UTF-8
// with file:line errors, and input expansion.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/corpus.h"
#include "data/utf8.h"
#include "data_test_util.h"

namespace glm::data {
namespace {

using Docs = std::vector<std::string>;

// Runs fn, expecting an InputError whose message contains every one of `parts`.
template <typename Fn>
void expect_input_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "'" << e.what() << "' lacks '" << p << "'";
  }
}

TEST(Corpus, FortuneFilesSplitOnPercentLines) {
  // Blank lines inside a fortune do not split it; "%" inside a line is text.
  const std::string text =
      "First fortune\n\nstill the first, 50% sure\n%\n  indented second\n%\n%\n\nthird\n%\n";
  EXPECT_EQ(split_documents(text),
            (Docs{"First fortune\n\nstill the first, 50% sure", "  indented second", "third"}));
}

TEST(Corpus, PlainFilesSplitOnBlankLines) {
  const std::string text = "\n\npara one\nline two  \n   \npara two\n\n\n\npara three";
  EXPECT_EQ(split_documents(text), (Docs{"para one\nline two", "para two", "para three"}));
  EXPECT_EQ(split_documents("\n \n\t\n"), Docs{});
}

TEST(Corpus, TerminalCodesAreStripped) {
  // fortunes-zh colours with ANSI SGR; English fortunes underline and embolden by
  // overstriking; CR of CRLF files goes too.
  EXPECT_EQ(strip_terminal_codes("\x1b[32m《静夜思》\x1b[m\r\n"), "《静夜思》\n");
  EXPECT_EQ(strip_terminal_codes("_\bu_\bn_\bd_\be_\br bold B\bBo\bol\bld\bd"), "under bold Bold");
  EXPECT_EQ(strip_terminal_codes("中\b中"), "中");  // a multi-byte code point overstruck
  EXPECT_EQ(strip_terminal_codes("a\x07\x0c\tb"), "a\tb");
}

TEST(Corpus, Utf8ValidatorRejectsEveryIllFormedKind) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("é 中 😀 \xF4\x8F\xBF\xBF \xED\x9F\xBF"), std::string_view::npos);
  struct Case {
    const char* what;
    std::string bytes;
    std::size_t offset;
  };
  const std::vector<Case> cases = {
      {"stray continuation", "ab\x80", 2},        {"overlong 2-byte (C0)", "\xC0\xAF", 0},
      {"overlong 2-byte (C1)", "x\xC1\xBF", 1},   {"overlong 3-byte", "\xE0\x80\xAF", 0},
      {"overlong 4-byte", "\xF0\x8F\xBF\xBF", 0}, {"surrogate U+D800", "ok \xED\xA0\x80", 3},
      {"surrogate U+DFFF", "\xED\xBF\xBF", 0},    {"above U+10FFFF", "\xF4\x90\x80\x80", 0},
      {"F5 lead byte", "\xF5\x80\x80\x80", 0},    {"truncated at end", "\xE4\xB8", 0},
      {"truncated mid-text", "\xE4\xB8 x", 0},    {"bad third byte", "\xE4\xB8\x41", 0},
  };
  for (const Case& c : cases) EXPECT_EQ(find_invalid_utf8(c.bytes), c.offset) << c.what;
}

TEST(Corpus, InvalidUtf8IsInputErrorNamingFileAndLine) {
  testing::ScratchDir dir;
  const std::vector<std::string> bad = {"\xC0\xAF", "\xED\xA0\x80", "\xE4\xB8", "\xF8"};
  for (const std::string& b : bad) {
    const std::string path = dir / "bad.txt";
    testing::write_text(path, "line one\n%\nline three ok 中\nline four " + b + " here\n");
    expect_input_error([&] { read_documents(path); }, {path + ":4:", "invalid UTF-8"});
  }
}

TEST(Corpus, MissingOrEmptyInputsAreInputErrors) {
  testing::ScratchDir dir;
  expect_input_error([&] { read_corpus({dir / "absent.txt"}); }, {dir / "absent.txt"});
  testing::write_text(dir / "empty.txt", "");
  expect_input_error([&] { read_corpus({dir / "empty.txt"}); }, {dir / "empty.txt", "no document"});
  testing::write_text(dir / "blank.txt", "\n%\n  \n%\n\x1b[m\n");
  expect_input_error([&] { read_corpus({dir / "blank.txt"}); }, {dir / "blank.txt"});
  expect_input_error([&] { read_corpus({}); }, {"no input"});
  expect_input_error([&] { expand_inputs({dir / "nope"}); }, {dir / "nope"});
}

TEST(Corpus, ReadsFilesInOrderWithSources) {
  testing::ScratchDir dir;
  testing::write_text(dir / "a",
                      "\xEF\xBB\xBF"
                      "a1\n%\na2\n");  // with a byte-order mark
  testing::write_text(dir / "b", "b1\n\nb2\n");
  Corpus c = read_corpus({dir / "a", dir / "b"});
  ASSERT_EQ(c.documents.size(), 4u);
  EXPECT_EQ(c.documents[0].text, "a1");
  EXPECT_EQ(c.documents[3].text, "b2");
  EXPECT_EQ(c.sources[c.documents[3].source], dir / "b");
}

TEST(Corpus, DirectoryInputsSkipLinksIndexesAndHiddenFiles) {
  testing::ScratchDir dir;
  testing::write_text(dir / "zeta", "z\n");
  testing::write_text(dir / "alpha", "a\n");
  testing::write_text(dir / "alpha.dat", "binary index");  // strfile index of alpha
  testing::write_text(dir / "notes.dat", "kept: no 'notes' next to it");
  testing::write_text(dir / ".hidden", "h\n");
  std::filesystem::create_symlink("alpha", dir / "alpha.u8");
  std::filesystem::create_directory(dir / "sub");
  const std::string single = dir / "zeta";
  EXPECT_EQ(expand_inputs({dir.str(), single}),
            (Docs{dir / "alpha", dir / "notes.dat", dir / "zeta", single}));
}

}  // namespace
}  // namespace glm::data

// JSON Lines input (data/jsonl.h): one document per line under the key, plain or gzipped,
// blank lines and empty texts skipped, the other input kinds' clean-up applied; a bad line is
// an InputError naming the file, the line and the key.
namespace glm::data {
namespace {

void write_gzip(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  gzclose(f);
}

// zstd: one frame, or several frames back to back (what `zstd` writes for appended files).
std::string zstd_frames(const std::string& text, int frames) {
  std::string out;
  const std::size_t part = (text.size() + frames - 1) / frames;
  for (std::size_t at = 0; at < text.size(); at += part) {
    const std::string piece = text.substr(at, part);
    std::string buf(ZSTD_compressBound(piece.size()), '\0');
    const std::size_t n = ZSTD_compress(buf.data(), buf.size(), piece.data(), piece.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    out += buf.substr(0, n);
  }
  return out;
}

TEST(Corpus, JsonLinesZstdOneFrameOrSeveralAndTruncated) {
  testing::ScratchDir dir;
  std::string lines;
  for (int i = 0; i < 3000; ++i)
    lines += "{\"text\": \"document " + std::to_string(i) + " \\u4e2d\"}\n";
  testing::write_text(dir / "one.jsonl.zst", zstd_frames(lines, 1));
  testing::write_text(dir / "many.ndjson.zst", zstd_frames(lines, 7));
  const Corpus c = read_corpus({dir / "one.jsonl.zst", dir / "many.ndjson.zst"});
  ASSERT_EQ(c.documents.size(), 6000u);
  EXPECT_EQ(c.documents[2999].text, "document 2999 中");
  EXPECT_EQ(c.documents[5999].text, "document 2999 中");
  const std::string whole = zstd_frames(lines, 1);
  testing::write_text(dir / "cut.jsonl.zst", whole.substr(0, whole.size() / 2));
  expect_input_error([&] { read_corpus({dir / "cut.jsonl.zst"}); }, {"cut.jsonl.zst", "truncated"});
  testing::write_text(dir / "junk.jsonl.zst", "not zstd at all\n");
  expect_input_error([&] { read_corpus({dir / "junk.jsonl.zst"}); }, {"junk.jsonl.zst", "zstd"});
}

TEST(Corpus, JsonLinesPlainAndGzipped) {
  testing::ScratchDir dir;
  const std::string lines =
      "{\"text\": \"first document\\nwith two lines\", \"id\": 1}\n"
      "\n"
      "{\"text\": \"\", \"id\": 2}\n"
      "{\"id\": 3, \"text\": \"\\u4e2d\\u6587 \\u001b[1mbold\\u001b[0m\"}\r\n"
      "{\"text\": \"no newline at the end\"}";
  testing::write_text(dir / "a.jsonl", lines);
  write_gzip(dir / "b.jsonl.gz", lines);
  const Docs want = {"first document\nwith two lines", "中文 bold", "no newline at the end"};
  Corpus c = read_corpus({dir / "a.jsonl", dir / "b.jsonl.gz"});
  ASSERT_EQ(c.documents.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(c.documents[i].text, want[i % 3]) << i;
    EXPECT_EQ(c.documents[i].source, static_cast<int>(i / 3));
  }
  testing::write_text(dir / "k.ndjson", "{\"content\": \"under another key\"}\n");
  EXPECT_EQ(read_corpus({dir / "k.ndjson"}, {.jsonl_key = "content"}).documents[0].text,
            "under another key");
}

TEST(Corpus, BadJsonLinesNameTheFileTheLineAndTheKey) {
  testing::ScratchDir dir;
  const std::string p = dir / "bad.jsonl";
  testing::write_text(p, "{\"text\": \"ok\"}\n{\"text\": \"cut off\n");
  expect_input_error([&] { read_corpus({p}); }, {p + ":2", "not a JSON line"});
  testing::write_text(p, "{\"text\": \"ok\"}\n[1, 2]\n");
  expect_input_error([&] { read_corpus({p}); }, {p + ":2", "expected a JSON object"});
  testing::write_text(p, "{\"body\": \"ok\"}\n");
  expect_input_error([&] { read_corpus({p}); }, {p + ":1", "\"text\"", "--jsonl-key"});
  testing::write_text(p, "{\"text\": 7}\n");
  expect_input_error([&] { read_corpus({p}); }, {p + ":1", "not text"});
  testing::write_text(p, "{\"text\": \"\xff\"}\n");  // a byte that is not UTF-8
  expect_input_error([&] { read_corpus({p}); }, {p + ":1"});
  testing::write_text(p, "\n{\"text\": \"  \"}\n");
  expect_input_error([&] { read_corpus({p}); }, {p, "no document"});
  expect_input_error([&] { read_corpus({dir / "absent.jsonl.gz"}); }, {"absent.jsonl.gz"});
}

}  // namespace
}  // namespace glm::data
