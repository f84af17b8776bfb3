#pragma once
// A caching allocator for host tensor storage (core/host.hpp: io/ and train/ hold their images in
// it, and the CPU backend computes on it) and for the CPU backend's scratch space. A network
// allocates and frees the same large blocks on every call; glibc returns blocks above its mmap
// threshold to the kernel, so each one page-faults back in, zero page by zero page (about half of
// stylize's time was system time). Blocks of 64 KiB and more are rounded up to a size class (four
// per octave, at most 25% spare) and, once freed, kept by class and handed out again, to a request
// of the same class or of one up to half its size (best fit): a network's layers ask for a few
// sizes that differ by powers of two, and a block kept for one size then serves the next, so the
// resident memory stays near the pass's peak rather than the sum of each size's peak. Small blocks
// go straight to operator new. It counts the bytes in tensors' hands and their peak, so tests and
// benchmarks can check a pass's working memory against its formula.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace perceptual {

class HostPool {
 public:
  static constexpr std::size_t min_pooled_bytes = std::size_t{64} << 10;
  static constexpr std::size_t alignment = 64;  // a cache line, and AVX-512 loads
  static constexpr std::size_t huge_page = std::size_t{2} << 20;

  // The process-wide pool (thread-safe; the data loader's threads allocate too). Never
  // destroyed, so that a tensor with static storage may outlive every other static.
  static HostPool& instance() {
    static HostPool* pool = new HostPool;
    return *pool;
  }

  HostPool() = default;
  HostPool(const HostPool&) = delete;
  HostPool& operator=(const HostPool&) = delete;
  ~HostPool() { release(); }

  // The size a request of `bytes` is served with: 2^k * {1, 1.25, 1.5, 1.75} for pooled sizes.
  static constexpr std::size_t size_class(std::size_t bytes) {
    if (bytes < min_pooled_bytes) return bytes;
    std::size_t octave = min_pooled_bytes;
    while (octave * 2 <= bytes) octave *= 2;
    const std::size_t quarter = octave / 4;
    return (bytes + quarter - 1) / quarter * quarter;
  }

  // A pooled block starts with a header that holds its size (a request may get a larger block),
  // one alignment unit long so the data stays aligned.
  void* allocate(std::size_t bytes) {
    bytes = size_class(bytes);
    if (bytes < min_pooled_bytes) {
      void* p = ::operator new (bytes, std::align_val_t{alignment});
      count_in(bytes);
      return p;
    }
    std::size_t block = bytes;
    void* base = take_cached(bytes, block);
    if (!base) {
      trim_for(block);
      base = new_block(block);
    }
    count_in(block);
    return static_cast<std::byte*>(base) + alignment;
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    bytes = size_class(bytes);
    if (bytes < min_pooled_bytes) {
      in_use_.fetch_sub(bytes, std::memory_order_relaxed);
      ::operator delete (p, std::align_val_t{alignment});
      return;
    }
    void* base = static_cast<std::byte*>(p) - alignment;
    const std::size_t block = *static_cast<std::size_t*>(base);
    in_use_.fetch_sub(block, std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + block <= max_cached_bytes_) {
        try {
          free_[block].push_back(base);
          cached_bytes_ += block;
          return;
        } catch (...) {  // no memory for the bookkeeping: free the block instead
        }
      }
    }
    delete_block(base);
  }

  // Frees every cached block (the memory in use is untouched).
  void release() noexcept {
    std::lock_guard lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) delete_block(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  // Caps what is kept for reuse (default 4 GiB); blocks freed beyond it go back to the system.
  void set_max_cached_bytes(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    max_cached_bytes_ = bytes;
  }

  std::size_t max_cached_bytes() const {
    std::lock_guard lock(mutex_);
    return max_cached_bytes_;
  }

  std::size_t cached_bytes() const {
    std::lock_guard lock(mutex_);
    return cached_bytes_;
  }

  // Bytes handed out and not yet given back (by size class), and their peak since the last
  // reset_peak(): what a computation needs at once, whatever the cache holds besides.
  std::size_t in_use_bytes() const { return in_use_.load(std::memory_order_relaxed); }
  std::size_t peak_in_use_bytes() const { return peak_.load(std::memory_order_relaxed); }
  void reset_peak() { peak_.store(in_use_bytes(), std::memory_order_relaxed); }

 private:
  // The smallest cached block of `bytes` to 2 * `bytes`, its size in `block`; nullptr if none.
  void* take_cached(std::size_t bytes, std::size_t& block) {
    std::lock_guard lock(mutex_);
    for (auto it = free_.lower_bound(bytes); it != free_.end() && it->first <= 2 * bytes; ++it) {
      if (it->second.empty()) continue;
      void* p = it->second.back();
      it->second.pop_back();
      block = it->first;
      cached_bytes_ -= block;
      return p;
    }
    return nullptr;
  }
  // A new block with its header written. On Linux the pool maps its blocks itself (mmap) and gives
  // them back with munmap: through malloc, a freed block of a few MiB raises glibc's mmap threshold,
  // later blocks then come from the heap, and the heap keeps what they leave behind (the 256x256
  // stylisation's resident memory grew from 65 MB to 105-170 MB over 12 passes while the pool's
  // own figures stayed the same). Blocks of 2 MiB and more are aligned to 2 MiB and asked to be
  // backed by transparent huge pages: the kernel then faults them in 2 MiB at a time, not 4 KiB,
  // which is most of what a first pass over a large image costs in a virtual machine.
  static void* new_block(std::size_t block) {
    const std::size_t bytes = block + alignment;
#if defined(__linux__)
    const std::size_t page = page_size();
    const std::size_t align = bytes < huge_page ? page : huge_page;
    const std::size_t length = round_up(bytes, page);
    const std::size_t span = length + align - page;  // room to start on an `align` boundary
    void* mapped = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(mapped);
    const std::uintptr_t first = round_up(start, align), end = first + length;
    if (first > start) ::munmap(mapped, first - start);
    if (start + span > end) ::munmap(reinterpret_cast<void*>(end), start + span - end);
    void* base = reinterpret_cast<void*>(first);
#if defined(MADV_HUGEPAGE)
    if (align == huge_page) (void)::madvise(base, length, MADV_HUGEPAGE);  // advice only: without it, 4 KiB pages
#endif
#else
    void* base = ::operator new (bytes, std::align_val_t{alignment});
#endif
    *static_cast<std::size_t*>(base) = block;
    return base;
  }
  static void delete_block(void* base) noexcept {
    const std::size_t bytes = *static_cast<std::size_t*>(base) + alignment;
#if defined(__linux__)
    ::munmap(base, round_up(bytes, page_size()));
#else
    ::operator delete (base, std::align_val_t{alignment});
    (void)bytes;
#endif
  }
  static constexpr std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
  }
#if defined(__linux__)
  static std::size_t page_size() {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
  }
#endif

  // Before a new block of `bytes`: frees cached blocks, largest first, until the blocks in use,
  // the cache and the new one together stay within the most ever in use at once (or the cache
  // is empty). The cache then never holds memory the process has not needed at one time.
  void trim_for(std::size_t bytes) {
    std::vector<void*> freed;
    {
      std::lock_guard lock(mutex_);
      const std::size_t in_use = in_use_bytes();
      const std::size_t limit = std::max(high_water_.load(std::memory_order_relaxed), in_use + bytes);
      while (cached_bytes_ > 0 && in_use + cached_bytes_ + bytes > limit) {
        auto it = std::prev(free_.end());
        while (it->second.empty()) it = std::prev(free_.erase(it));
        freed.push_back(it->second.back());
        it->second.pop_back();
        cached_bytes_ -= it->first;
      }
    }
    for (void* p : freed) delete_block(p);
  }
  void count_in(std::size_t bytes) {
    const std::size_t now = in_use_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    std::size_t high = high_water_.load(std::memory_order_relaxed);
    while (now > high && !high_water_.compare_exchange_weak(high, now, std::memory_order_relaxed)) {
    }
  }

  std::atomic<std::size_t> in_use_{0}, peak_{0}, high_water_{0};  // high_water_: never reset
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
  std::size_t max_cached_bytes_ = std::size_t{4} << 30;
};

// A std allocator over HostPool.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(HostPool::instance().allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { HostPool::instance().deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

// An uninitialised array from the pool, for scratch space (im2col bands).
template <class T>
struct PoolDeleter {
  std::size_t n = 0;
  void operator()(T* p) const noexcept { PoolAllocator<T>{}.deallocate(p, n); }
};

template <class T>
using PoolArray = std::unique_ptr<T[], PoolDeleter<T>>;

template <class T>
PoolArray<T> make_pool_array(std::size_t n) {
  return PoolArray<T>(PoolAllocator<T>{}.allocate(n), PoolDeleter<T>{n});
}

}  // namespace perceptual
