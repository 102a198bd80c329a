#include "core/cuda_caching_allocator.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "core/error.h"

#ifdef GLM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace glm {

std::size_t CachingAllocator::size_class(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= kSmallLimit) return (bytes + kSmallRound - 1) / kSmallRound * kSmallRound;
  // 2^k < bytes <= 2^(k+1): round up to a multiple of 2^k / kStepsPerOctave.
  const int k = std::bit_width(bytes - 1) - 1;
  const std::size_t step = (std::size_t{1} << k) / kStepsPerOctave;
  return (bytes + step - 1) / step * step;
}

CachingAllocator::CachingAllocator(RawDeviceMemory& raw, bool caching)
    : raw_(raw), caching_(caching) {}

CachingAllocator::~CachingAllocator() { release_cached(); }

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  std::lock_guard lock(mu_);
  ++stats_.allocations;
  void* p = nullptr;
  auto it = free_.find(cls);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    stats_.cached -= cls;
    ++stats_.cache_hits;
  } else {
    p = raw_.allocate(cls);
    if (!p && stats_.cached > 0) {  // out of memory: give the cache back and try once more
      ++stats_.oom_retries;
      for (auto& [c, blocks] : free_) {
        for (void* b : blocks) {
          raw_.release(b, c);
          ++stats_.raw_frees;
        }
        blocks.clear();
      }
      stats_.reserved -= stats_.cached;
      stats_.cached = 0;
      p = raw_.allocate(cls);
    }
    if (!p) return nullptr;
    ++stats_.raw_allocations;
    stats_.reserved += cls;
  }
  live_[p] = cls;
  stats_.in_use += cls;
  if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard lock(mu_);
  auto it = live_.find(p);
  GLM_CHECK(it != live_.end(), "CachingAllocator: {} was not allocated here (or freed twice)", p);
  const std::size_t cls = it->second;
  live_.erase(it);
  stats_.in_use -= cls;
  if (caching_) {
    free_[cls].push_back(p);
    stats_.cached += cls;
  } else {
    raw_.release(p, cls);
    ++stats_.raw_frees;
    stats_.reserved -= cls;
  }
}

void CachingAllocator::release_cached() {
  std::lock_guard lock(mu_);
  for (auto& [cls, blocks] : free_) {
    for (void* b : blocks) {
      raw_.release(b, cls);
      ++stats_.raw_frees;
    }
    blocks.clear();
  }
  stats_.reserved -= stats_.cached;
  stats_.cached = 0;
}

CacheStats CachingAllocator::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard lock(mu_);
  stats_.peak_in_use = stats_.in_use;
}

#ifdef GLM_WITH_CUDA
namespace {

class CudaRawMemory final : public RawDeviceMemory {
 public:
  explicit CudaRawMemory(int device) : device_(device) {}
  void* allocate(std::size_t bytes) override {
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(device_);
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      cudaGetLastError();  // clear the out-of-memory error so later calls do not see it
      p = nullptr;
    }
    cudaSetDevice(prev);
    return p;
  }
  void release(void* p, std::size_t) override { cudaFree(p); }

 private:
  int device_;
};

bool caching_enabled() {
  const char* v = std::getenv("GLM_CUDA_CACHING");
  return !(v && std::strcmp(v, "0") == 0);
}

struct DeviceCache {
  CudaRawMemory raw;
  CachingAllocator cache;
  explicit DeviceCache(int device) : raw(device), cache(raw, caching_enabled()) {}
};

}  // namespace

CachingAllocator& cuda_caching_allocator(int index) {
  constexpr int kMaxDevices = 64;
  GLM_CHECK(index >= 0 && index < kMaxDevices, "CUDA device index {} out of range", index);
  static std::mutex mu;
  // Never destroyed: tensors in static storage may free into it during exit.
  static auto* caches = new std::unique_ptr<DeviceCache>[kMaxDevices];
  std::lock_guard lock(mu);
  if (!caches[index]) caches[index] = std::make_unique<DeviceCache>(index);
  return caches[index]->cache;
}

CacheStats cuda_cache_stats(int index) { return cuda_caching_allocator(index).stats(); }
#else
CachingAllocator& cuda_caching_allocator(int) {
  throw Error("this build has no CUDA backend (configure with -DGLM_CUDA=ON and nvcc present)");
}
CacheStats cuda_cache_stats(int) { return {}; }
#endif

std::string cuda_memory_report(int index) {
  const CacheStats s = cuda_cache_stats(index);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  const double hit = s.allocations ? 100.0 * s.cache_hits / s.allocations : 0.0;
  return fmt::format(
      "cuda:{} in use {:.2f} GiB, peak {:.2f} GiB, cached {:.2f} GiB, {} allocations ({:.1f}% "
      "from the cache)",
      index, s.in_use / kGiB, s.peak_in_use / kGiB, s.cached / kGiB, s.allocations, hit);
}

}  // namespace glm
