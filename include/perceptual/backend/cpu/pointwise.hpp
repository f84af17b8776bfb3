#pragma once
// Element-wise operations and reductions shared by layers, losses and optimisers (CPU).
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

template <class T>
void fill(Tensor<T, Cpu>& x, T value) {
  std::fill_n(x.data(), x.size(), value);
}

// y += alpha * x
template <class T>
void axpy(Tensor<T, Cpu>& y, T alpha, const Tensor<T, Cpu>& x) {
  require_same_shape(y, x, "axpy");
  T* py = y.data();
  const T* px = x.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) py[i] += alpha * px[i];
}

// x *= alpha
template <class T>
void scale(Tensor<T, Cpu>& x, T alpha) {
  T* p = x.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) p[i] *= alpha;
}

template <class T>
Tensor<T, Cpu> add(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b) {
  require_same_shape(a, b, "add");
  Tensor<T, Cpu> out(a.shape(), uninitialized);
  const T* pa = a.data();
  const T* pb = b.data();
  T* po = out.data();
  for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = pa[i] + pb[i];
  return out;
}

// y[n, c] = x[n, c] * scale[c] + shift[c]: per-channel normalisation with fixed statistics.
template <class T>
Tensor<T, Cpu> channel_affine(const Tensor<T, Cpu>& x, const std::vector<T>& scale, const std::vector<T>& shift) {
  if (scale.size() != static_cast<std::size_t>(x.c()) || shift.size() != scale.size())
    throw ShapeError("channel_affine: input " + to_string(x.shape()) + ", " + std::to_string(scale.size()) +
                     " scales and " + std::to_string(shift.size()) + " shifts");
  Tensor<T, Cpu> y(x.shape());
  const std::size_t plane = x.shape().plane();
  const T* px = x.data();
  T* py = y.data();
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c, px += plane, py += plane)
      for (std::size_t i = 0; i < plane; ++i) py[i] = px[i] * scale[c] + shift[c];
  return y;
}

// Sum of all elements, accumulated in double.
template <class T>
double sum(const Tensor<T, Cpu>& x) {
  double s = 0;
  const T* p = x.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) s += p[i];
  return s;
}

// Inner product of two tensors of one shape, accumulated in double.
template <class T>
double dot(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b) {
  require_same_shape(a, b, "dot");
  double s = 0;
  const T* pa = a.data();
  const T* pb = b.data();
  for (std::size_t i = 0, n = a.size(); i < n; ++i) s += static_cast<double>(pa[i]) * pb[i];
  return s;
}

}  // namespace perceptual::cpu
