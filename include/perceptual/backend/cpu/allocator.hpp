#pragma once
// A caching allocator for CPU tensor storage. A network allocates and frees the same large
// blocks on every call; glibc returns blocks above its mmap threshold to the kernel, so each one
// page-faults back in, zero page by zero page (about half of stylize's time was system time).
// Blocks of 64 KiB and more are rounded up to a size class (four per octave, at most 25% spare)
// and, once freed, kept by class and handed out again; small ones go straight to operator new.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace perceptual::cpu {

class HostPool {
 public:
  static constexpr std::size_t min_pooled_bytes = std::size_t{64} << 10;
  static constexpr std::size_t alignment = 64;  // a cache line, and AVX-512 loads

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

  void* allocate(std::size_t bytes) {
    bytes = size_class(bytes);
    if (bytes >= min_pooled_bytes) {
      std::lock_guard lock(mutex_);
      if (auto it = free_.find(bytes); it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= bytes;
        return p;
      }
    }
    return ::operator new (bytes, std::align_val_t{alignment});
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    bytes = size_class(bytes);
    if (bytes >= min_pooled_bytes) {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + bytes <= max_cached_bytes_) {
        try {
          free_[bytes].push_back(p);
          cached_bytes_ += bytes;
          return;
        } catch (...) {  // no memory for the bookkeeping: free the block instead
        }
      }
    }
    ::operator delete (p, std::align_val_t{alignment});
  }

  // Frees every cached block (the memory in use is untouched).
  void release() noexcept {
    std::lock_guard lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) ::operator delete (p, std::align_val_t{alignment});
    free_.clear();
    cached_bytes_ = 0;
  }

  // Caps what is kept for reuse (default 4 GiB); blocks freed beyond it go back to the system.
  void set_max_cached_bytes(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    max_cached_bytes_ = bytes;
  }

  std::size_t cached_bytes() const {
    std::lock_guard lock(mutex_);
    return cached_bytes_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
  std::size_t max_cached_bytes_ = std::size_t{4} << 30;
};

// A std allocator over HostPool, for xtensor's storage.
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

}  // namespace perceptual::cpu
