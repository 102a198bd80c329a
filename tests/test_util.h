// What every test binary shares, defined once: seeded random fp32 tensors, small int32
// tensors, the source tree the tests read configs from, and running a shell command for its
// status and output. Free of GoogleTest so the benchmarks can use it too.
#pragma once

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace glm::test {

// Fills an fp32 host tensor with uniform values in [lo, hi) from mt19937_64(seed).
inline void fill_uniform(Tensor& t, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
}

// The same dtype, size and bytes: what "bit-identical" means in the tests.
inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

inline Tensor random_tensor(const Shape& shape, std::uint64_t seed, float lo = -1.f,
                            float hi = 1.f) {
  Tensor t = Tensor::empty(shape, DType::f32);
  fill_uniform(t, seed, lo, hi);
  return t;
}

inline Tensor i32_tensor(const std::vector<std::int32_t>& v) {
  Tensor t = Tensor::empty({static_cast<std::int64_t>(v.size())}, DType::i32);
  for (std::size_t i = 0; i < v.size(); ++i) t.data<std::int32_t>()[i] = v[i];
  return t;
}

#ifdef GLM_SOURCE_DIR
// The repository the tests read configs from: GLM_SOURCE_DIR in the environment (the GPU
// check runs prebuilt binaries in another checkout, launch/gpu_check.sh), else the source
// tree they were built from (the target's GLM_SOURCE_DIR definition).
inline std::string source_dir() {
  const char* dir = std::getenv("GLM_SOURCE_DIR");
  return dir && *dir ? dir : std::string(GLM_SOURCE_DIR);
}
#endif

// A shell command's exit status (-1 when it did not exit normally) and its stdout; append
// " 2>&1" to the command to capture stderr as well.
struct CommandResult {
  int status = -1;
  std::string output;
};
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) r.output += buf;
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace glm::test
