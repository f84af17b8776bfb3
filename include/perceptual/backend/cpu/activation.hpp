#pragma once
// Pointwise activations on the CPU: ReLU and the scaled, clipped tanh that maps to pixel values.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

// y = max(x, 0) into `y` (x's shape; it may be x itself). NaN gives 0, as on the GPU.
template <class T>
void relu_forward(const Tensor<T, Cpu>& x, Tensor<T, Cpu>& y) {
  require_same_shape(x, y, "ReLU forward");
  const T* px = x.data();
  T* py = y.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) py[i] = px[i] > T(0) ? px[i] : T(0);
}

template <class T>
Tensor<T, Cpu> relu_forward(const Tensor<T, Cpu>& x) {
  Tensor<T, Cpu> y(x.shape(), uninitialized);
  relu_forward(x, y);
  return y;
}

// dL/dx from the forward output y, dy where y > 0, into `dx` (dy's shape; it may be dy itself).
template <class T>
void relu_backward(const Tensor<T, Cpu>& y, const Tensor<T, Cpu>& dy, Tensor<T, Cpu>& dx) {
  require_same_shape(y, dy, "ReLU backward");
  require_same_shape(dy, dx, "ReLU backward");
  const T* py = y.data();
  const T* pdy = dy.data();
  T* pdx = dx.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) pdx[i] = py[i] > T(0) ? pdy[i] : T(0);
}

template <class T>
Tensor<T, Cpu> relu_backward(const Tensor<T, Cpu>& y, const Tensor<T, Cpu>& dy) {
  Tensor<T, Cpu> dx(dy.shape(), uninitialized);
  relu_backward(y, dy, dx);
  return dx;
}

// y = clamp(scale * tanh(x) + offset, lo, hi)
template <class T>
Tensor<T, Cpu> scaled_tanh_forward(const Tensor<T, Cpu>& x, T scale, T offset, T lo, T hi) {
  Tensor<T, Cpu> y(x.shape(), uninitialized);
  const T* px = x.data();
  T* py = y.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) py[i] = std::clamp(scale * std::tanh(px[i]) + offset, lo, hi);
  return y;
}

// dL/dx from the forward input x: zero where the output was clipped.
template <class T>
Tensor<T, Cpu> scaled_tanh_backward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy, T scale, T offset, T lo, T hi) {
  require_same_shape(x, dy, "ScaledTanh backward");
  Tensor<T, Cpu> dx(x.shape(), uninitialized);
  const T* px = x.data();
  const T* pdy = dy.data();
  T* pdx = dx.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) {
    const T t = std::tanh(px[i]);
    const T v = scale * t + offset;
    pdx[i] = (v > lo && v < hi) ? pdy[i] * scale * (T(1) - t * t) : T(0);
  }
  return dx;
}

}  // namespace perceptual::cpu
