#pragma once
// The CPU backend's tag type and storage: an xtensor container in NCHW order, its memory from
// the caching HostPool.
#include <algorithm>
#include <array>
#include <cstddef>

#include "perceptual/backend/cpu/allocator.hpp"
#include "perceptual/backend/cpu/xtensor.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::cpu {

struct Cpu {
  static constexpr const char* name = "cpu";

  template <class T>
  class buffer {
   public:
    using storage = xt::xtensor<T, 4, xt::layout_type::row_major, PoolAllocator<T>>;

    explicit buffer(Shape4 s) : data_(dims(s), T(0)) {}
    // Unspecified contents (xtensor leaves an array of floats uninitialised): for outputs written in full.
    buffer(Shape4 s, Uninitialized) : data_(dims(s)) {}
    T* data() { return data_.data(); }
    const T* data() const { return data_.data(); }
    void copy_to_host(T* out) const { std::copy(data_.begin(), data_.end(), out); }
    void copy_from_host(const T* in) { std::copy(in, in + data_.size(), data_.begin()); }
    storage& xt() { return data_; }
    const storage& xt() const { return data_; }

   private:
    static std::array<std::size_t, 4> dims(Shape4 s) {
      return {static_cast<std::size_t>(s.n), static_cast<std::size_t>(s.c), static_cast<std::size_t>(s.h),
              static_cast<std::size_t>(s.w)};
    }
    storage data_;
  };
};

template <class T>
using CpuTensor = Tensor<T, Cpu>;

}  // namespace perceptual::cpu

namespace perceptual {
using cpu::Cpu;
}  // namespace perceptual
