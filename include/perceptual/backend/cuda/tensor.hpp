#pragma once
// The CUDA backend's tag type and storage: device memory (plain cudaMalloc, never managed
// memory) from a caching allocator, in NCHW order. Operations run on the current device's
// stream (handle.hpp). Parses with a host compiler too; the operations need nvcc.
#include <bit>
#include <cstddef>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "perceptual/backend/cuda/check.hpp"
#include "perceptual/backend/cuda/handle.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

// Rounds a request up to a size class: 512 bytes at least, then four classes per power of two,
// so a block serves later requests up to 25% smaller and similar shapes share blocks.
inline std::size_t size_class(std::size_t bytes) {
  if (bytes <= 512) return 512;
  const std::size_t step = std::bit_floor(bytes) / 4;
  return (bytes + step - 1) / step * step;
}

// Size-bucketed free lists per device. A freed block goes back to its list and is handed out
// again without synchronising, which is safe because all work is ordered on one stream per
// device (see Context). When cudaMalloc runs out of memory, the cached blocks of that device
// are released and the allocation tried once more.
class CachingAllocator {
 public:
  // Never destroyed, like the contexts: blocks may be released during static destruction.
  static CachingAllocator& instance() {
    static auto* allocator = new CachingAllocator;
    return *allocator;
  }

  // A block of at least `bytes` on `device` (the current device); `bucket` receives its class.
  void* allocate(std::size_t bytes, int device, std::size_t& bucket) {
    bucket = size_class(bytes);
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find({device, bucket});
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t s = cudaMalloc(&p, bucket);
    if (s == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached(device);
      s = cudaMalloc(&p, bucket);
    }
    PERCEPTUAL_CUDA_CHECK(s);
    return p;
  }

  void deallocate(void* p, std::size_t bucket, int device) noexcept {
    try {
      std::lock_guard lock(mutex_);
      free_[{device, bucket}].push_back(p);
    } catch (...) {
      (void)cudaFree(p);  // no memory for the free list: give the block back instead
    }
  }

  // Returns every cached block of `device` to CUDA (waits for the device first: cudaFree does).
  void release_cached(int device) {
    std::vector<void*> blocks;
    {
      std::lock_guard lock(mutex_);
      for (auto it = free_.begin(); it != free_.end();) {
        if (it->first.first == device) {
          blocks.insert(blocks.end(), it->second.begin(), it->second.end());
          it = free_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (void* p : blocks) PERCEPTUAL_CUDA_CHECK(cudaFree(p));
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<int, std::size_t>, std::vector<void*>> free_;
};

}  // namespace detail

// Releases the current device's cached, unused blocks to CUDA.
inline void empty_cache() {
  detail::CachingAllocator::instance().release_cached(context().device());
}

struct Cuda {
  static constexpr const char* name = "cuda";

  // Device storage for a tensor: zero-filled (unless asked not to), deep-copied, moved without touching the device.
  // An empty buffer allocates nothing and makes no CUDA call, so default-constructed tensors
  // (layer members before their first forward) need no device.
  template <class T>
  class buffer {
   public:
    explicit buffer(Shape4 s) : size_(s.size()) {
      if (size_ == 0) return;
      allocate();
      PERCEPTUAL_CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes(), context(device_).stream()));
    }
    // Unspecified contents, no memset: for outputs a kernel writes in full.
    buffer(Shape4 s, Uninitialized) : size_(s.size()) {
      if (size_ != 0) allocate();
    }
    buffer(const buffer& o) : size_(o.size_) {
      if (size_ == 0) return;
      allocate();
      copy_device(o);
    }
    buffer& operator=(const buffer& o) {
      if (this == &o) return *this;
      if (size_ == o.size_ && size_ != 0) {
        copy_device(o);  // same size: reuse this block
      } else {
        buffer copy(o);
        swap(copy);
      }
      return *this;
    }
    buffer(buffer&& o) noexcept { swap(o); }
    buffer& operator=(buffer&& o) noexcept {
      swap(o);
      return *this;
    }
    ~buffer() {
      if (data_) detail::CachingAllocator::instance().deallocate(data_, bucket_, device_);
    }

    T* data() { return data_; }
    const T* data() const { return data_; }
    std::size_t size() const { return size_; }
    int device() const { return device_; }

    // Waits for the queued work that writes this buffer, then copies it to host memory.
    void copy_to_host(T* out) const {
      if (size_ == 0) return;
      Context& ctx = context(device_);
      PERCEPTUAL_CUDA_CHECK(cudaMemcpyAsync(out, data_, bytes(), cudaMemcpyDeviceToHost, ctx.stream()));
      ctx.synchronize();
    }
    // Returns once the copy has finished, so `in` may be freed or changed right after.
    void copy_from_host(const T* in) {
      if (size_ == 0) return;
      Context& ctx = context(device_);
      PERCEPTUAL_CUDA_CHECK(cudaMemcpyAsync(data_, in, bytes(), cudaMemcpyHostToDevice, ctx.stream()));
      ctx.synchronize();
    }

   private:
    std::size_t bytes() const { return size_ * sizeof(T); }
    void allocate() {
      device_ = context().device();
      data_ = static_cast<T*>(detail::CachingAllocator::instance().allocate(bytes(), device_, bucket_));
    }
    void copy_device(const buffer& o) {
      PERCEPTUAL_CUDA_CHECK(
          cudaMemcpyAsync(data_, o.data_, bytes(), cudaMemcpyDeviceToDevice, context(device_).stream()));
    }
    void swap(buffer& o) noexcept {
      std::swap(data_, o.data_);
      std::swap(size_, o.size_);
      std::swap(bucket_, o.bucket_);
      std::swap(device_, o.device_);
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t bucket_ = 0;
    int device_ = -1;
  };
};

template <class T>
using CudaTensor = Tensor<T, Cuda>;

}  // namespace perceptual::cuda

namespace perceptual {
using cuda::Cuda;
}  // namespace perceptual
