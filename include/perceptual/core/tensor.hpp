#pragma once
// Tensor<Scalar, Backend>: an owning 4-D NCHW tensor. The backend supplies the storage
// (`Backend::buffer<Scalar>`); the operations on tensors are free functions in the backend's
// namespace, found by argument-dependent lookup, so code written against Tensor never names a
// backend and compiles unchanged for each one.
//
// Copies are deep (a copy never changes when the original does); share() is the one way to get a
// second tensor over the same storage, for layers that keep their input for backward.
#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/shape.hpp"

namespace perceptual {

namespace concepts {

// What a backend's storage must offer: zero-filled allocation for a shape, a contiguous
// pointer, and copies to and from host memory.
template <class Buf, class T>
concept buffer = std::constructible_from<Buf, Shape4> && requires(Buf b, const Buf cb, T* out, const T* in) {
  { b.data() } -> std::same_as<T*>;
  { cb.data() } -> std::same_as<const T*>;
  cb.copy_to_host(out);
  b.copy_from_host(in);
};

}  // namespace concepts

// Asks for storage that the caller overwrites in full before reading it: no zero-fill. A backend
// whose buffer has no such constructor zero-fills anyway.
struct Uninitialized {};
inline constexpr Uninitialized uninitialized{};

template <class T, class Backend>
class Tensor {
 public:
  using value_type = T;
  using backend_type = Backend;
  using buffer_type = typename Backend::template buffer<T>;

  Tensor() = default;
  // Zero-filled.
  explicit Tensor(Shape4 shape) : shape_(shape), buffer_(std::make_shared<buffer_type>(shape)) {}
  // Contents unspecified: for outputs that are written in full.
  Tensor(Shape4 shape, Uninitialized) : shape_(shape), buffer_(make_uninitialized(shape)) {}

  Tensor(const Tensor& o)
      : shape_(o.shape_), buffer_(o.buffer_ ? std::make_shared<buffer_type>(*o.buffer_) : nullptr) {}
  Tensor& operator=(const Tensor& o) {
    if (this != &o) *this = Tensor(o);
    return *this;
  }
  Tensor(Tensor&& o) noexcept : shape_(std::exchange(o.shape_, Shape4{})), buffer_(std::move(o.buffer_)) {}
  Tensor& operator=(Tensor&& o) noexcept {
    shape_ = std::exchange(o.shape_, Shape4{});
    buffer_ = std::move(o.buffer_);
    return *this;
  }
  ~Tensor() = default;

  // A tensor over the same storage: a change through either shows in both. For values kept for
  // later (a layer's input for its backward) without a copy; whoever holds the original must not
  // change it in place while the share is still to be read.
  Tensor share() const {
    Tensor t;
    t.shape_ = shape_;
    t.buffer_ = buffer_;
    return t;
  }
  // Whether another tensor shares this one's storage (so changing it in place would change that one).
  bool is_shared() const { return buffer_ && buffer_.use_count() > 1; }

  // A tensor holding a copy of host values (NCHW order).
  static Tensor from_host(Shape4 shape, std::span<const T> values) {
    if (values.size() != shape.size())
      throw ShapeError("Tensor::from_host: " + std::to_string(values.size()) + " values for shape " + to_string(shape) +
                       " (" + std::to_string(shape.size()) + " expected)");
    Tensor t(shape, uninitialized);
    t.buffer_->copy_from_host(values.data());
    return t;
  }

  std::vector<T> to_host() const {
    std::vector<T> out(size());
    if (!out.empty()) buffer_->copy_to_host(out.data());
    return out;
  }

  Shape4 shape() const { return shape_; }
  int n() const { return shape_.n; }
  int c() const { return shape_.c; }
  int h() const { return shape_.h; }
  int w() const { return shape_.w; }
  std::size_t size() const { return shape_.size(); }
  bool empty() const { return size() == 0; }

  T* data() { return empty() ? nullptr : buffer_->data(); }
  const T* data() const { return empty() ? nullptr : buffer_->data(); }
  // The backend's storage; a default-constructed or moved-from tensor has none (empty() is true).
  buffer_type& buffer() { return *buffer_; }
  const buffer_type& buffer() const { return *buffer_; }

 private:
  static std::shared_ptr<buffer_type> make_uninitialized(Shape4 shape) {
    if constexpr (std::constructible_from<buffer_type, Shape4, Uninitialized>)
      return std::make_shared<buffer_type>(shape, uninitialized);
    else
      return std::make_shared<buffer_type>(shape);
  }

  Shape4 shape_{};
  std::shared_ptr<buffer_type> buffer_;  // null while empty and never given a shape
};

// x on backend To, for code that moves data between the host and a device once per step (a
// batch from train::BatchLoader onto the GPU, a sample back): a copy through host memory. On To
// already: x itself (moved when it is a temporary), so the CPU pays nothing.
template <class To, class T, class From>
Tensor<T, To> to_backend(const Tensor<T, From>& x) requires(!std::is_same_v<To, From>) {
  return Tensor<T, To>::from_host(x.shape(), x.to_host());
}

template <class To, class T>
const Tensor<T, To>& to_backend(const Tensor<T, To>& x) {
  return x;
}

template <class To, class T>
Tensor<T, To> to_backend(Tensor<T, To>&& x) {
  return std::move(x);
}

// A parameter and its gradient, as a layer exposes them for optimisers and weight files. A
// state tensor that is saved but not learned (batch norm's running statistics) has grad nullptr.
template <class T, class Backend>
struct Parameter {
  std::string name;
  Tensor<T, Backend>* value;
  Tensor<T, Backend>* grad;
  bool learnable() const { return grad != nullptr; }
};

template <class T, class Backend>
using Parameters = std::vector<Parameter<T, Backend>>;

// Throws ShapeError unless `x` has `channels` channels; `where` names the layer.
template <class T, class B>
void require_channels(const Tensor<T, B>& x, int channels, const std::string& where) {
  if (x.c() != channels)
    throw ShapeError(where + ": input " + to_string(x.shape()) + ", expected " + std::to_string(channels) +
                     " channels");
}

// Throws ShapeError unless `a` and `b` have the same shape.
template <class T, class B>
void require_same_shape(const Tensor<T, B>& a, const Tensor<T, B>& b, const std::string& where) {
  if (a.shape() != b.shape())
    throw ShapeError(where + ": shapes " + to_string(a.shape()) + " and " + to_string(b.shape()) + " differ");
}

}  // namespace perceptual
