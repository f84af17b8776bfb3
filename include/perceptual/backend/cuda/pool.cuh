#pragma once
// pool.hpp's kernels and definitions, for nvcc (pool.hpp includes this file there); a host
// compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/pool.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <cstddef>
#include <string>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/pool.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

using checks::pooled_shape_2x2;
using checks::require_pool_shapes;

// Offset in x of the top-left value of output i's window (output oh x ow, input h x w).
__device__ inline std::size_t window_top(std::size_t i, int h, int w, int oh, int ow) {
  const int j = static_cast<int>(i % ow);
  const int r = static_cast<int>(i / ow % oh);
  const std::size_t p = i / (static_cast<std::size_t>(ow) * oh);
  return (p * h + 2 * r) * static_cast<std::size_t>(w) + 2 * j;
}

// The CPU's window_argmax: the first largest in row-major order, a NaN beating any number.
template <class T>
__device__ std::size_t window_argmax(const T* x, std::size_t top, int w) {
  using C = compute_t<T>;
  const std::size_t candidates[4] = {top, top + 1, top + w, top + w + 1};
  std::size_t best = top;
  for (std::size_t k : candidates) {
    const C v = static_cast<C>(x[k]), b = static_cast<C>(x[best]);
    if (v > b || (isnan(v) && !isnan(b))) best = k;
  }
  return best;
}

template <class T>
__global__ void max_pool_forward_kernel(T* y, const T* x, int h, int w, int oh, int ow, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = x[window_argmax(x, window_top(i, h, w, oh, ow), w)];
}

// dx starts zeroed (a new tensor): each window writes only its argmax.
template <class T>
__global__ void max_pool_backward_kernel(T* dx, const T* x, const T* dy, int h, int w, int oh, int ow, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    dx[window_argmax(x, window_top(i, h, w, oh, ow), w)] = dy[i];
}

template <class T>
__global__ void avg_pool_forward_kernel(T* y, const T* x, int h, int w, int oh, int ow, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    using C = compute_t<T>;
    const T* top = x + window_top(i, h, w, oh, ow);
    y[i] = static_cast<T>(
        (static_cast<C>(top[0]) + static_cast<C>(top[1]) + static_cast<C>(top[w]) + static_cast<C>(top[w + 1])) *
        C(0.25));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(T* dx, const T* dy, int h, int w, int oh, int ow, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const T q = static_cast<T>(static_cast<compute_t<T>>(dy[i]) * compute_t<T>(0.25));
    T* top = dx + window_top(i, h, w, oh, ow);
    top[0] = top[1] = top[w] = top[w + 1] = q;
  }
}

}  // namespace detail

template <class T>
Tensor<T, Cuda> max_pool2x2_forward(const Tensor<T, Cuda>& x) {
  const Shape4 out = detail::pooled_shape_2x2(x.shape());
  detail::require_pool_shapes(x.shape(), out, "max_pool2x2_forward");
  Tensor<T, Cuda> y(out);
  if (y.empty()) return y;
  detail::max_pool_forward_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), x.h(), x.w(), out.h, out.w, y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

template <class T>
Tensor<T, Cuda> max_pool2x2_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy) {
  detail::require_pool_shapes(x.shape(), dy.shape(), "max_pool2x2_backward");
  Tensor<T, Cuda> dx(x.shape());
  if (dy.empty()) return dx;
  detail::max_pool_backward_kernel<<<detail::grid_blocks(dy.size()), detail::block_threads, 0, context().stream()>>>(
      dx.data(), x.data(), dy.data(), x.h(), x.w(), dy.h(), dy.w(), dy.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dx;
}

template <class T>
Tensor<T, Cuda> avg_pool2x2_forward(const Tensor<T, Cuda>& x) {
  const Shape4 out = detail::pooled_shape_2x2(x.shape());
  detail::require_pool_shapes(x.shape(), out, "avg_pool2x2_forward");
  Tensor<T, Cuda> y(out);
  if (y.empty()) return y;
  detail::avg_pool_forward_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), x.h(), x.w(), out.h, out.w, y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

template <class T>
Tensor<T, Cuda> avg_pool2x2_backward(const Tensor<T, Cuda>& dy, Shape4 input_shape) {
  detail::require_pool_shapes(input_shape, dy.shape(), "avg_pool2x2_backward");
  Tensor<T, Cuda> dx(input_shape);
  if (dy.empty()) return dx;
  detail::avg_pool_backward_kernel<<<detail::grid_blocks(dy.size()), detail::block_threads, 0, context().stream()>>>(
      dx.data(), dy.data(), input_shape.h, input_shape.w, dy.h(), dy.w(), dy.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dx;
}

}  // namespace perceptual::cuda
