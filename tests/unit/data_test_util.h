// Shared helpers of the data tests: a scratch directory per test, file writing and a small
// generated bilingual corpus (running a program: tests/test_util.h).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace glm::testing {

// A fresh directory under /tmp named for the running test; removed at scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("glm_data_") + info->test_suite_name() + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Document i of a small bilingual corpus: made-up English-like words (syllables from a
// seeded generator, so there are enough distinct pieces for a few hundred-piece vocabulary)
// and Chinese lines over 40 characters, so a 400-500 piece tokenizer covers every character.
inline std::string corpus_document(int i) {
  static const char* onsets[] = {"b", "c", "d", "f", "g", "h", "k",  "l",  "m",  "n",
                                 "p", "r", "s", "t", "v", "w", "st", "th", "ch", "pr"};
  static const char* vowels[] = {"a", "e", "i", "o", "u", "ea", "ou"};
  static const std::vector<std::string> zh = {
      "春", "眠", "不", "觉", "晓", "处", "闻", "啼", "鸟", "夜", "来", "风", "雨", "声",
      "花", "落", "知", "多", "少", "明", "月", "光", "山", "水", "白", "日", "依", "尽",
      "黄", "河", "入", "海", "流", "欲", "穷", "千", "里", "目", "更", "上"};
  std::uint32_t state = 2654435761u * static_cast<std::uint32_t>(i + 1);
  auto next = [&](std::uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  std::string doc;
  const int lines = 1 + i % 3;
  for (int l = 0; l < lines; ++l) {
    if ((i + l) % 2 == 0) {
      const int words = 5 + static_cast<int>(next(6));
      for (int w = 0; w < words; ++w) {
        if (w) doc += ' ';
        // Zipf-like reuse: a word is one of a few thousand, chosen with a skew.
        std::uint32_t word = next(40) * next(60);
        for (int syl = 0; syl < 1 + static_cast<int>(word % 3); ++syl) {
          doc += onsets[(word / 3 + syl * 7) % 20];
          doc += vowels[(word / 60 + syl) % 7];
        }
      }
      doc += ". Number " + std::to_string(i * 37 + l) + ".";
    } else {
      const int chars = 5 + static_cast<int>(next(8));
      for (int c = 0; c < chars; ++c) doc += zh[next(40) * next(40) / 40];
      doc += "。";
    }
    if (l + 1 < lines) doc += '\n';
  }
  return doc;
}

}  // namespace glm::testing
