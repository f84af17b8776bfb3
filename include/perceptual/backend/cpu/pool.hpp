#pragma once
// 2x2, stride-2 max and average pooling on the CPU. Odd sizes floor (the last row or column is
// dropped, as PyTorch); max-pool backward recomputes each window's argmax from the input, as
// cuDNN does, so no index tensor is kept.
#include <cmath>
#include <cstddef>
#include <string>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

namespace detail {

using checks::pooled_shape_2x2;
using checks::require_pool_shapes;

// Offset (within the plane) of the largest of the four values under output (i, j): the first in
// row-major order on ties, and a NaN wins, so that a diverging net shows NaN rather than hiding it.
template <class T>
std::size_t window_argmax(const T* plane, int w, int i, int j) {
  const std::size_t top = static_cast<std::size_t>(2 * i) * w + 2 * j;
  const std::size_t candidates[4] = {top, top + 1, top + w, top + w + 1};
  std::size_t best = top;
  for (std::size_t k : candidates)
    if (plane[k] > plane[best] || (std::isnan(plane[k]) && !std::isnan(plane[best]))) best = k;
  return best;
}

}  // namespace detail

template <class T>
Tensor<T, Cpu> max_pool2x2_forward(const Tensor<T, Cpu>& x) {
  const Shape4 out = detail::pooled_shape_2x2(x.shape());
  detail::require_pool_shapes(x.shape(), out, "max_pool2x2_forward");
  Tensor<T, Cpu> y(out);
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  for (std::size_t p = 0; p < planes; ++p) {
    const T* in = x.data() + p * x.shape().plane();
    T* o = y.data() + p * out.plane();
    for (int i = 0; i < out.h; ++i)
      for (int j = 0; j < out.w; ++j) o[i * out.w + j] = in[detail::window_argmax(in, x.w(), i, j)];
  }
  return y;
}

// dL/dx: each dy goes to its window's argmax in the forward input x.
template <class T>
Tensor<T, Cpu> max_pool2x2_backward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy) {
  detail::require_pool_shapes(x.shape(), dy.shape(), "max_pool2x2_backward");
  Tensor<T, Cpu> dx(x.shape());
  const Shape4 out = dy.shape();
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  for (std::size_t p = 0; p < planes; ++p) {
    const T* in = x.data() + p * x.shape().plane();
    const T* g = dy.data() + p * out.plane();
    T* d = dx.data() + p * x.shape().plane();
    for (int i = 0; i < out.h; ++i)
      for (int j = 0; j < out.w; ++j) d[detail::window_argmax(in, x.w(), i, j)] += g[i * out.w + j];
  }
  return dx;
}

template <class T>
Tensor<T, Cpu> avg_pool2x2_forward(const Tensor<T, Cpu>& x) {
  const Shape4 out = detail::pooled_shape_2x2(x.shape());
  detail::require_pool_shapes(x.shape(), out, "avg_pool2x2_forward");
  Tensor<T, Cpu> y(out);
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  const int w = x.w();
  for (std::size_t p = 0; p < planes; ++p) {
    const T* in = x.data() + p * x.shape().plane();
    T* o = y.data() + p * out.plane();
    for (int i = 0; i < out.h; ++i)
      for (int j = 0; j < out.w; ++j) {
        const T* top = in + static_cast<std::size_t>(2 * i) * w + 2 * j;
        o[i * out.w + j] = (top[0] + top[1] + top[w] + top[w + 1]) * T(0.25);
      }
  }
  return y;
}

// dL/dx for an input of `input_shape`: a quarter of each dy to each value of its window; a
// dropped odd last row or column gets zero.
template <class T>
Tensor<T, Cpu> avg_pool2x2_backward(const Tensor<T, Cpu>& dy, Shape4 input_shape) {
  detail::require_pool_shapes(input_shape, dy.shape(), "avg_pool2x2_backward");
  Tensor<T, Cpu> dx(input_shape);
  const Shape4 out = dy.shape();
  const std::size_t planes = static_cast<std::size_t>(out.n) * out.c;
  const int w = input_shape.w;
  for (std::size_t p = 0; p < planes; ++p) {
    const T* g = dy.data() + p * out.plane();
    T* d = dx.data() + p * input_shape.plane();
    for (int i = 0; i < out.h; ++i)
      for (int j = 0; j < out.w; ++j) {
        const T q = g[i * out.w + j] * T(0.25);
        T* top = d + static_cast<std::size_t>(2 * i) * w + 2 * j;
        top[0] = top[1] = top[w] = top[w + 1] = q;
      }
  }
  return dx;
}

}  // namespace perceptual::cpu
