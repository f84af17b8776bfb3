#pragma once
// Host tensors, Tensor<T, Cpu>: the tag Cpu, whose buffer is a plain NCHW array from the caching
// HostPool. io/ and train/ hold images in them without seeing a backend; the CPU backend
// (backend/cpu/) adds only operations on this very type, so a CPU program never copies.
#include <algorithm>
#include <cstddef>
#include <utility>

#include "perceptual/core/host_pool.hpp"
#include "perceptual/core/tensor.hpp"

// The tag is declared in namespace cpu, where the CPU backend's operations live: a call such as
// relu_forward(x) on a Tensor<T, Cpu> finds them by argument-dependent lookup in each translation
// unit that includes backend/cpu/, and nowhere else.
namespace perceptual::cpu {

struct Cpu {
  static constexpr const char* name = "cpu";

  template <class T>
  class buffer {
   public:
    // Zero-filled.
    explicit buffer(Shape4 s) : buffer(s, uninitialized) { std::fill_n(data_.get(), size_, T(0)); }
    // Unspecified contents, no page written: for outputs that are written in full.
    buffer(Shape4 s, Uninitialized) : size_(s.size()), data_(allocate(size_)) {}
    buffer(const buffer& o) : size_(o.size_), data_(allocate(size_)) { std::copy_n(o.data_.get(), size_, data_.get()); }
    buffer& operator=(const buffer& o) {
      if (this == &o) return *this;
      if (size_ != o.size_) {
        data_ = allocate(o.size_);
        size_ = o.size_;
      }
      std::copy_n(o.data_.get(), size_, data_.get());
      return *this;
    }
    buffer(buffer&& o) noexcept : size_(std::exchange(o.size_, 0)), data_(std::move(o.data_)) {}
    buffer& operator=(buffer&& o) noexcept {
      size_ = std::exchange(o.size_, 0);
      data_ = std::move(o.data_);
      return *this;
    }
    ~buffer() = default;

    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    std::size_t size() const { return size_; }
    void copy_to_host(T* out) const { std::copy_n(data_.get(), size_, out); }
    void copy_from_host(const T* in) { std::copy_n(in, size_, data_.get()); }

   private:
    static PoolArray<T> allocate(std::size_t n) { return n ? make_pool_array<T>(n) : PoolArray<T>(); }

    std::size_t size_ = 0;
    PoolArray<T> data_;  // null when size_ is 0
  };
};

template <class T>
using CpuTensor = Tensor<T, Cpu>;

}  // namespace perceptual::cpu

// No perceptual::HostTensor<T> alias: io::HostTensor<T> (safetensors.hpp) is the name of a shape
// and its values, and programs that say `using namespace perceptual;` define their own HostTensor.
namespace perceptual {

using cpu::Cpu;

static_assert(concepts::buffer<Cpu::buffer<float>, float>);

}  // namespace perceptual
