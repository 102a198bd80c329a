#include "kernels/cuda/cuda_stream.h"

#include <map>
#include <memory>

#include "core/error.h"
#include "core/cuda_device.h"

namespace glm::kernels::cuda {

void check(cudaError_t e, std::string_view what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {}: {}", what, cudaGetErrorString(e)));
}

void check(cublasStatus_t s, std::string_view what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(fmt::format("cuBLAS {}: {} ({})", what, cublasGetStatusString(s),
                            static_cast<int>(s)));
}

Stream::Stream(bool non_blocking, int priority) {
  check(cudaStreamCreateWithPriority(&s_, non_blocking ? cudaStreamNonBlocking : cudaStreamDefault,
                                     priority),
        "cudaStreamCreateWithPriority");
}

Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);  // errors at teardown are not actionable
}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_) cudaStreamDestroy(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

void Stream::synchronize() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

bool Stream::done() const {
  cudaError_t e = cudaStreamQuery(s_);
  if (e == cudaErrorNotReady) return false;
  check(e, "cudaStreamQuery");
  return true;
}

Event::Event(bool timing) {
  check(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming),
        "cudaEventCreate");
}

Event::~Event() {
  if (e_) cudaEventDestroy(e_);
}

void Event::record(cudaStream_t s) { check(cudaEventRecord(e_, s), "cudaEventRecord"); }
void Event::synchronize() const { check(cudaEventSynchronize(e_), "cudaEventSynchronize"); }
bool Event::done() const {
  cudaError_t e = cudaEventQuery(e_);
  if (e == cudaErrorNotReady) return false;
  check(e, "cudaEventQuery");
  return true;
}
float Event::ms_since(const Event& start) const {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start.e_, e_), "cudaEventElapsedTime");
  return ms;
}

namespace {

// Per-thread, per-device handles and workspace, released when the thread exits.
struct ThreadHandles {
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  ~ThreadHandles() {
    if (blas) cublasDestroy(blas);
    if (lt) cublasLtDestroy(lt);
    if (workspace) cudaFree(workspace);
  }
};
ThreadHandles& handles_for_current_device() {
  thread_local std::map<int, std::unique_ptr<ThreadHandles>> per_device;
  auto& h = per_device[current_device()];
  if (!h) h = std::make_unique<ThreadHandles>();
  return *h;
}
}  // namespace

cudaStream_t current_stream() { return static_cast<cudaStream_t>(current_cuda_stream()); }

StreamScope::StreamScope(cudaStream_t s) : previous_(current_stream()) { set_current_cuda_stream(s); }
StreamScope::~StreamScope() { set_current_cuda_stream(previous_); }

cublasHandle_t cublas_handle() {
  ThreadHandles& h = handles_for_current_device();
  if (!h.blas) {
    check(cublasCreate(&h.blas), "cublasCreate");
    // fp32 GEMMs stay fp32 (no TF32): the fp32 mode is the reference the CPU matches.
    check(cublasSetMathMode(h.blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  }
  check(cublasSetStream(h.blas, current_stream()), "cublasSetStream");
  return h.blas;
}

cublasLtHandle_t cublaslt_handle() {
  ThreadHandles& h = handles_for_current_device();
  if (!h.lt) check(cublasLtCreate(&h.lt), "cublasLtCreate");
  return h.lt;
}

void* cublaslt_workspace() {
  ThreadHandles& h = handles_for_current_device();
  if (!h.workspace) check(cudaMalloc(&h.workspace, kCublasLtWorkspaceBytes), "cudaMalloc(workspace)");
  return h.workspace;
}

int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

int max_shared_memory_optin() {
  int v = 0;
  check(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, current_device()),
        "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
  return v;
}

}  // namespace glm::kernels::cuda
