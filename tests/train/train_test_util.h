// Shared set-up of the trainer tests: the real bundled corpus prepared once by the ctest
// fixture (GLM_TEST_CORPUS, see tests/CMakeLists.txt) and the tiny config sized for CI.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "config/run_config.h"
#include "modeldef/param_layout.h"
#include "tests/test_util.h"

namespace glm::testing {

// A fresh, empty directory under the system temp dir, unique to this process.
inline std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

using test::source_dir;

// The same shape, dtype and bytes.
inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && test::same_bytes(a, b);
}

inline std::string test_corpus() {
  const char* dir = std::getenv("GLM_TEST_CORPUS");
  return dir ? dir : std::string(GLM_BINARY_DIR) + "/test_corpus";
}

// configs/tiny.json on the test corpus, with the vocabulary of its 6000-piece tokenizer
// (padded to a multiple of 64).
inline config::RunConfig tiny_run(std::vector<std::string> overrides = {}) {
  overrides.insert(overrides.begin(), {"model.vocab_size=6016",
                                       "train.data_dir=\"" + test_corpus() + "\"",
                                       "train.log_interval=1000000", "train.eval_interval=0"});
  return config::load_run_config(source_dir() + "/configs/tiny.json", overrides);
}

// Flips bits of the byte in the middle of a file (a corruption a checksum must catch).
inline void flip_middle_byte(const std::string& file, char mask = 0x01) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  const auto middle = static_cast<std::streamoff>(std::filesystem::file_size(file) / 2);
  f.seekg(middle);
  char c;
  f.get(c);
  f.seekp(middle);
  f.put(static_cast<char>(c ^ mask));
}

// The master weights of the checkpoint of step `iter` under a save root, as one process's
// flat buffer: re-cut by the loader from whatever layout wrote it (whole or ZeRO-cut pieces).
inline Tensor checkpoint_master(const std::string& save_root, int iter,
                                const modeldef::ModelConfig& mc) {
  const std::string dir = checkpoint::resolve_checkpoint_dir(save_root, iter);
  const checkpoint::CheckpointMeta meta = checkpoint::read_checkpoint_meta(dir);
  const modeldef::ParamLayout layout(mc, {});
  checkpoint::OptimizerTensors t;
  t.layout = &layout;
  t.master = Tensor::zeros({layout.total()}, DType::f32);
  checkpoint::load_optimizer_tensors(dir, meta, t);
  return t.master;
}

}  // namespace glm::testing
