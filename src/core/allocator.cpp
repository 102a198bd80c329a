#include "core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core/cuda_caching_allocator.h"
#include "core/cuda_device.h"
#include "core/error.h"

#ifdef GLM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace glm {
namespace {

struct Gauge {
  std::atomic<std::size_t> in_use{0};
  std::atomic<std::size_t> peak{0};
  void add(std::size_t n) {
    std::size_t now = in_use.fetch_add(n) + n;
    std::size_t p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }
  void sub(std::size_t n) { in_use.fetch_sub(n); }
  void reset_peak() { peak.store(in_use.load()); }
};

// One device kind's bytes: all of them, and by MemoryKind.
struct Counter {
  Gauge all;
  std::array<Gauge, kMemoryKinds> by;
  void add(std::size_t n, MemoryKind k) {
    all.add(n);
    by[static_cast<int>(k)].add(n);
  }
  void sub(std::size_t n, MemoryKind k) {
    all.sub(n);
    by[static_cast<int>(k)].sub(n);
  }
};

Counter& counter(DeviceKind k) {
  static Counter host, cuda;
  return k == DeviceKind::cpu ? host : cuda;
}

thread_local MemoryKind t_kind = MemoryKind::workspace;

}  // namespace

std::string_view memory_kind_name(MemoryKind k) {
  static constexpr std::string_view kNames[kMemoryKinds] = {
      "parameters", "gradients", "master", "optimizer_state", "activations", "workspace"};
  return kNames[static_cast<int>(k)];
}

MemoryScope::MemoryScope(MemoryKind k) : previous_(t_kind) { t_kind = k; }
MemoryScope::~MemoryScope() { t_kind = previous_; }
MemoryKind current_memory_kind() { return t_kind; }

void* device_alloc(Device dev, std::size_t bytes, MemoryKind kind) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  if (dev.is_cpu()) {
    std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    p = std::aligned_alloc(kHostAlignment, rounded);
    if (!p) throw Error(fmt::format("host allocation of {} bytes failed", bytes));
  } else {
#ifdef GLM_WITH_CUDA
    // Through the caching allocator (src/core/cuda_caching_allocator.h): freed blocks are
    // reused instead of paying a synchronising cudaMalloc/cudaFree per tensor.
    p = cuda_caching_allocator(dev.index).allocate(bytes);
    if (!p)
      throw Error(fmt::format("CUDA out of memory allocating {} bytes on cuda:{} ({})", bytes,
                              dev.index, cuda_memory_report(dev.index)));
#else
    throw Error("this build has no CUDA backend (configure with -DGLM_CUDA=ON and nvcc present)");
#endif
  }
  counter(dev.kind).add(bytes, kind);
  return p;
}

void device_free(Device dev, void* ptr, std::size_t bytes, MemoryKind kind) {
  if (!ptr) return;
  if (bytes == 0) bytes = 1;
  counter(dev.kind).sub(bytes, kind);
  if (dev.is_cpu()) {
    std::free(ptr);
  } else {
#ifdef GLM_WITH_CUDA
    cuda_caching_allocator(dev.index).deallocate(ptr);
#endif
  }
}

MemoryStats memory_stats(DeviceKind kind) {
  const Counter& c = counter(kind);
  MemoryStats m{c.all.in_use.load(), c.all.peak.load()};
  for (int i = 0; i < kMemoryKinds; ++i) {
    m.in_use_by[i] = c.by[i].in_use.load();
    m.peak_by[i] = c.by[i].peak.load();
  }
  return m;
}

void reset_peak_memory(DeviceKind kind) {
  Counter& c = counter(kind);
  c.all.reset_peak();
  for (Gauge& g : c.by) g.reset_peak();
}

std::size_t available_memory_bytes(Device dev) {
  if (dev.is_cuda()) {
#ifdef GLM_WITH_CUDA
    const int previous = current_cuda_device();
    set_current_cuda_device(dev.index);
    std::size_t free = 0, total = 0;
    const cudaError_t e = cudaMemGetInfo(&free, &total);
    set_current_cuda_device(previous);
    if (e != cudaSuccess)
      throw Error(fmt::format("cudaMemGetInfo on cuda:{}: {}", dev.index, cudaGetErrorString(e)));
    return free;
#else
    throw Error("available_memory_bytes: a CUDA device in a build without CUDA");
#endif
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES)) *
         static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE));
}


void trim_host_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace glm
