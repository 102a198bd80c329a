// CUDA runtime pieces every CUDA op uses: error checks, a stream RAII type, the calling
// thread's current stream (where every op in kernels/cuda enqueues its work), events for
// timing and cross-stream ordering, and the per-thread cuBLAS / cuBLASLt handles.
//
//   cuda::Stream compute;                      // non-blocking stream on the current device
//   { cuda::StreamScope on(compute.get());     // ops in this scope run on `compute`
//     kernels::layernorm_forward(...); }
//   compute.synchronize();
//
// The default current stream is the legacy default stream (0), which orders itself with
// every blocking stream and with Tensor::copy_from, so code that never sets a stream needs
// no synchronisation of its own.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string_view>

namespace glm::kernels::cuda {

// Throws glm::Error "CUDA <what>: <error string>" unless e is cudaSuccess.
void check(cudaError_t e, std::string_view what);
void check(cublasStatus_t s, std::string_view what);

class Stream {
 public:
  // A new stream on the current device; non_blocking streams do not order themselves with
  // the legacy default stream (cudaStreamNonBlocking). priority: lower is higher priority.
  explicit Stream(bool non_blocking = true, int priority = 0);
  ~Stream();
  Stream(Stream&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return s_; }
  void synchronize() const;
  bool done() const;  // cudaStreamQuery: every enqueued operation has completed

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(Event&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s);
  void synchronize() const;
  bool done() const;
  float ms_since(const Event& start) const;  // both recorded with timing = true

 private:
  cudaEvent_t e_ = nullptr;
};

// The calling thread's current stream (0 = legacy default stream until a scope sets one).
cudaStream_t current_stream();

// Sets the current stream for the lifetime of the scope, restoring the previous one.
class StreamScope {
 public:
  explicit StreamScope(cudaStream_t s);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  cudaStream_t previous_;
};

// The calling thread's handles on the current device, created on first use and bound to
// the current stream at every call (cuBLAS handles are not thread-safe: one per thread).
cublasHandle_t cublas_handle();
cublasLtHandle_t cublaslt_handle();
// A cuBLASLt workspace on the current device (32 MiB, NVIDIA's recommendation for Hopper),
// owned by the calling thread.
void* cublaslt_workspace();
constexpr std::size_t kCublasLtWorkspaceBytes = std::size_t{32} << 20;

// The current device index.
int current_device();
// Largest dynamic shared memory one block may opt into on the current device.
int max_shared_memory_optin();

}  // namespace glm::kernels::cuda
