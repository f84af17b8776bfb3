#pragma once
// activation.hpp's kernels and definitions, for nvcc (activation.hpp includes this file there);
// a host compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/activation.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <cstddef>

#include "perceptual/backend/cuda/activation.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

template <class T>
__global__ void relu_forward_kernel(T* y, const T* x, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T>
__global__ void relu_backward_kernel(T* dx, const T* y, const T* dy, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

// std::clamp's order of comparisons, so ties resolve as on the CPU.
template <class T>
__device__ T clamp(T v, T lo, T hi) {
  return v < lo ? lo : (hi < v ? hi : v);
}

// In compute_t<T> (float for bf16), rounded once on store.
template <class T>
__global__ void scaled_tanh_forward_kernel(T* y, const T* x, std::size_t n, compute_t<T> scale, compute_t<T> offset,
                                           compute_t<T> lo, compute_t<T> hi) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = static_cast<T>(clamp(scale * tanh(static_cast<C>(x[i])) + offset, lo, hi));
}

template <class T>
__global__ void scaled_tanh_backward_kernel(T* dx, const T* x, const T* dy, std::size_t n, compute_t<T> scale,
                                            compute_t<T> offset, compute_t<T> lo, compute_t<T> hi) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const C t = tanh(static_cast<C>(x[i]));
    const C v = scale * t + offset;
    dx[i] = static_cast<T>((v > lo && v < hi) ? static_cast<C>(dy[i]) * scale * (C(1) - t * t) : C(0));
  }
}

}  // namespace detail

template <class T>
void relu_forward(const Tensor<T, Cuda>& x, Tensor<T, Cuda>& y) {
  require_same_shape(x, y, "ReLU forward");
  if (y.empty()) return;
  detail::relu_forward_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), x.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
Tensor<T, Cuda> relu_forward(const Tensor<T, Cuda>& x) {
  Tensor<T, Cuda> y(x.shape());
  relu_forward(x, y);
  return y;
}

template <class T>
void relu_backward(const Tensor<T, Cuda>& y, const Tensor<T, Cuda>& dy, Tensor<T, Cuda>& dx) {
  require_same_shape(y, dy, "ReLU backward");
  require_same_shape(dy, dx, "ReLU backward");
  if (dx.empty()) return;
  detail::relu_backward_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      dx.data(), y.data(), dy.data(), y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
Tensor<T, Cuda> relu_backward(const Tensor<T, Cuda>& y, const Tensor<T, Cuda>& dy) {
  Tensor<T, Cuda> dx(dy.shape());
  relu_backward(y, dy, dx);
  return dx;
}

template <class T>
Tensor<T, Cuda> scaled_tanh_forward(const Tensor<T, Cuda>& x, T scale, T offset, T lo, T hi) {
  Tensor<T, Cuda> y(x.shape());
  if (y.empty()) return y;
  detail::scaled_tanh_forward_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), x.size(), scale, offset, lo, hi);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

template <class T>
Tensor<T, Cuda> scaled_tanh_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, T scale, T offset, T lo,
                                     T hi) {
  require_same_shape(x, dy, "ScaledTanh backward");
  Tensor<T, Cuda> dx(x.shape());
  if (dx.empty()) return dx;
  detail::scaled_tanh_backward_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
      dx.data(), x.data(), dy.data(), x.size(), scale, offset, lo, hi);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dx;
}

}  // namespace perceptual::cuda
