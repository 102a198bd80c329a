// A caching allocator for device memory: freed blocks go to per-size-class free lists and
// are handed out again instead of calling cudaMalloc / cudaFree (each of which synchronises
// the device and costs ~100 us-1 ms), which is what makes per-layer temporaries affordable.
//
// Size classes: requests round up to a multiple of 512 bytes up to 1 MiB, and above that to
// one of 8 steps per power of two (at most 12.5% waste): a freed block serves any later
// request of its class. There is no splitting or merging of blocks. When cudaMalloc fails,
// every cached block is released and the allocation is tried once more.
// Stream semantics: a block freed on the host may be reused by work enqueued later. Work on
// one stream (or on streams ordered by events) is safe; memory used by another stream must
// outlive that stream's work (the NCCL handles keep their buffers until wait()).
// GLM_CUDA_CACHING=0 in the environment turns caching off (plain cudaMalloc / cudaFree, for
// compute-sanitizer runs).
//
// The class logic is independent of CUDA (RawDeviceMemory): tests drive it with host memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace glm {

// Where the cache gets and returns real memory (cudaMalloc/cudaFree for a device).
class RawDeviceMemory {
 public:
  virtual ~RawDeviceMemory() = default;
  virtual void* allocate(std::size_t bytes) = 0;  // nullptr when out of memory
  virtual void release(void* p, std::size_t bytes) = 0;
};

struct CacheStats {
  std::size_t in_use = 0;       // bytes of the blocks handed out (size-class rounded)
  std::size_t peak_in_use = 0;  // since construction or reset_peak()
  std::size_t cached = 0;       // bytes of free blocks held for reuse
  std::size_t reserved = 0;     // in_use + cached: what the device has given us
  std::uint64_t allocations = 0, cache_hits = 0, raw_allocations = 0, raw_frees = 0, oom_retries = 0;
};

class CachingAllocator {
 public:
  static constexpr std::size_t kSmallRound = 512;            // bytes
  static constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
  static constexpr int kStepsPerOctave = 8;

  // The block size a request of `bytes` gets (>= bytes; 0 -> 512).
  static std::size_t size_class(std::size_t bytes);

  CachingAllocator(RawDeviceMemory& raw, bool caching = true);
  ~CachingAllocator();  // releases cached blocks (blocks still in use are leaked on purpose:
                        // their tensors may outlive a static allocator at exit)
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(std::size_t bytes);  // nullptr when the device is out of memory
  void deallocate(void* p);           // p from allocate(); nullptr is ignored
  void release_cached();              // returns every cached block to the device
  CacheStats stats() const;
  void reset_peak();

 private:
  RawDeviceMemory& raw_;
  bool caching_;
  mutable std::mutex mu_;
  std::map<std::size_t, std::vector<void*>> free_;  // size class -> free blocks
  std::unordered_map<void*, std::size_t> live_;     // block -> size class
  CacheStats stats_;
};

// The process-wide allocator of CUDA device `index` (built on first use; only in builds with
// CUDA). src/core/allocator.cpp routes every device allocation through it.
CachingAllocator& cuda_caching_allocator(int index);
// Stats of device `index`, and a one-line report: "cuda:0 in use 1.20 GiB, peak 3.10 GiB,
// cached 0.40 GiB, 1532 allocations (97.1% from the cache)".
CacheStats cuda_cache_stats(int index);
std::string cuda_memory_report(int index);

}  // namespace glm
