// What the training-step benchmarks share (bench_model_step on the CPU, bench_cuda_train_step
// on a GPU): timing helpers, the synthetic batch of tests/reference/bench_torch.py, and
// running the PyTorch peer.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "modeldef/batch.h"
#include "tests/test_util.h"

namespace glm::bench {

// The repository root the benchmark reads configs and the PyTorch peer from.
using test::source_dir;

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Random tokens and targets at every position, positions 0..T-1, a bidirectional prefix of
// T/4, no padding: the batch tests/reference/bench_torch.py builds.
inline modeldef::Batch bench_batch(int B, int T, int V) {
  modeldef::Batch b;
  for (Tensor* t : {&b.tokens, &b.positions, &b.targets}) *t = Tensor::empty({B, T}, DType::i32);
  b.prefix_len = Tensor::empty({B}, DType::i32);
  b.valid_len = Tensor::empty({B}, DType::i32);
  std::mt19937 rng(1);
  for (int i = 0; i < B * T; ++i) {
    b.tokens.data<std::int32_t>()[i] = static_cast<std::int32_t>(rng() % V);
    b.targets.data<std::int32_t>()[i] = static_cast<std::int32_t>(rng() % V);
    b.positions.data<std::int32_t>()[i] = i % T;
  }
  for (int s = 0; s < B; ++s) {
    b.prefix_len.data<std::int32_t>()[s] = T / 4;
    b.valid_len.data<std::int32_t>()[s] = T;
  }
  return b;
}

// stdout of a shell command; empty when it fails (the peer's failure is reported by the caller).
inline std::string run_capture(const std::string& cmd) {
  test::CommandResult r = test::run_command(cmd);
  return r.status == 0 ? r.output : std::string();
}

}  // namespace glm::bench
