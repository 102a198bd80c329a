// Shared helpers of the data tests: a scratch directory per test, file writing, a small
// generated bilingual corpus, and running a program with its output captured.
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

// Document i of a small bilingual corpus: English sentences and Chinese lines built from a
// fixed word list, so a 500-piece tokenizer covers its characters.
inline std::string corpus_document(int i) {
  static const std::vector<std::string> en = {
      "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "model", "learns",
      "from", "text", "every", "day", "and", "night", "small", "data", "sets", "train"};
  static const std::vector<std::string> zh = {"春眠", "不觉", "晓", "处处", "闻", "啼鸟",
                                              "夜来", "风雨", "声", "花落", "知", "多少",
                                              "明月", "光", "山", "水"};
  std::string doc;
  const int lines = 1 + i % 3;
  for (int l = 0; l < lines; ++l) {
    if ((i + l) % 2 == 0) {
      for (int w = 0; w < 6 + (i * 7 + l) % 5; ++w) {
        if (w) doc += ' ';
        doc += en[(i * 31 + l * 7 + w * 13) % en.size()];
      }
      doc += ". Number " + std::to_string(i * 37 + l) + ".";
    } else {
      for (int w = 0; w < 5 + (i + l) % 4; ++w) doc += zh[(i * 17 + l * 5 + w * 3) % zh.size()];
      doc += "。";
    }
    if (l + 1 < lines) doc += '\n';
  }
  return doc;
}

// Runs a shell command, returning its exit status and combined stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};
inline CommandResult run_command(const std::string& command, const std::string& scratch_file) {
  CommandResult r;
  const int rc = std::system((command + " > " + scratch_file + " 2>&1").c_str());
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.output = read_text(scratch_file);
  return r;
}

}  // namespace glm::testing
