#pragma once
// pointwise.hpp's kernels and definitions, for nvcc (pointwise.hpp includes this file there); a
// host compiler's program links their instances (instances.cu) instead. block_sum, the block
// reduction, serves the reductions of conv.cuh, loss.cuh and optim.cuh too.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/pointwise.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/pointwise.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

template <class T>
__global__ void fill_kernel(T* x, std::size_t n, T value) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    x[i] = value;
}

// Every kernel computes in compute_t<T> (float for bf16) and rounds once on store.
template <class T>
__global__ void axpy_kernel(T* y, compute_t<T> alpha, const T* x, std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = static_cast<T>(static_cast<C>(y[i]) + alpha * static_cast<C>(x[i]));
}

template <class T>
__global__ void scale_kernel(T* x, compute_t<T> alpha, std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    x[i] = static_cast<T>(static_cast<C>(x[i]) * alpha);
}

template <class T>
__global__ void add_kernel(T* out, const T* a, const T* b, std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    out[i] = static_cast<T>(static_cast<C>(a[i]) + static_cast<C>(b[i]));
}

// channel_affine's coefficients by value or in device memory (affine_by_value, pointwise.hpp).
template <class C>
struct AffineByValue {
  C scale[affine_by_value], shift[affine_by_value];
};
template <class C>
struct AffineOnDevice {
  const C *scale, *shift;
};

template <class T, class Coefficients>
__global__ void channel_affine_kernel(T* y, const T* x, Coefficients k, std::size_t n, int channels,
                                      std::size_t plane) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int c = static_cast<int>((i / plane) % channels);
    y[i] = static_cast<T>(static_cast<compute_t<T>>(x[i]) * k.scale[c] + k.shift[c]);
  }
}

// Sums a block's values in shared memory; thread 0 gets the total. block_threads threads.
__device__ inline double block_sum(double v) {
  __shared__ double partial[block_threads];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (unsigned stride = block_threads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  return partial[0];
}

// One double partial sum per block of a[i] (or of a[i] * b[i] when b is given); the host adds
// the partials, so the result is accumulated in double like the CPU backend's.
template <class T>
__global__ void partial_sums_kernel(const T* a, const T* b, std::size_t n, double* partials) {
  double s = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    s += b ? static_cast<double>(a[i]) * static_cast<double>(b[i]) : static_cast<double>(a[i]);
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

template <class T>
double reduce_sum(const T* a, const T* b, std::size_t n) {
  if (n == 0) return 0;
  const unsigned blocks = std::min(grid_blocks(n), 1024u);
  Tensor<double, Cuda> partials({1, 1, 1, static_cast<int>(blocks)});
  partial_sums_kernel<<<blocks, block_threads, 0, context().stream()>>>(a, b, n, partials.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  double s = 0;
  for (double p : partials.to_host()) s += p;
  return s;
}

}  // namespace detail

template <class T>
void fill(Tensor<T, Cuda>& x, T value) {
  if (x.empty()) return;
  detail::fill_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(x.data(),
                                                                                                       x.size(), value);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
void axpy(Tensor<T, Cuda>& y, T alpha, const Tensor<T, Cuda>& x) {
  require_same_shape(y, x, "axpy");
  if (y.empty()) return;
  detail::axpy_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), alpha, x.data(), y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
void scale(Tensor<T, Cuda>& x, T alpha) {
  if (x.empty()) return;
  detail::scale_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(x.data(), alpha,
                                                                                                        x.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
Tensor<T, Cuda> add(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b) {
  require_same_shape(a, b, "add");
  Tensor<T, Cuda> out(a.shape());
  if (out.empty()) return out;
  detail::add_kernel<<<detail::grid_blocks(a.size()), detail::block_threads, 0, context().stream()>>>(
      out.data(), a.data(), b.data(), a.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return out;
}

template <class T>
Tensor<T, Cuda> channel_affine(const Tensor<T, Cuda>& x, const std::vector<T>& scale, const std::vector<T>& shift) {
  if (scale.size() != static_cast<std::size_t>(x.c()) || shift.size() != scale.size())
    throw ShapeError("channel_affine: input " + to_string(x.shape()) + ", " + std::to_string(scale.size()) +
                     " scales and " + std::to_string(shift.size()) + " shifts");
  Tensor<T, Cuda> y(x.shape());
  if (y.empty()) return y;
  using C = detail::compute_t<T>;
  const auto launch = [&](auto coefficients) {
    detail::channel_affine_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
        y.data(), x.data(), coefficients, x.size(), x.c(), x.shape().plane());
    PERCEPTUAL_CUDA_CHECK_LAUNCH();
  };
  if (x.c() <= detail::affine_by_value) {
    detail::AffineByValue<C> k{};
    std::copy(scale.begin(), scale.end(), k.scale);
    std::copy(shift.begin(), shift.end(), k.shift);
    launch(k);
    return y;
  }
  const Shape4 per_channel{1, x.c(), 1, 1};
  const auto s = Tensor<C, Cuda>::from_host(per_channel, std::vector<C>(scale.begin(), scale.end()));
  const auto b = Tensor<C, Cuda>::from_host(per_channel, std::vector<C>(shift.begin(), shift.end()));
  launch(detail::AffineOnDevice<C>{s.data(), b.data()});
  return y;
}

template <class T>
double sum(const Tensor<T, Cuda>& x) {
  return detail::reduce_sum<T>(x.data(), nullptr, x.size());
}

template <class T>
double dot(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b) {
  require_same_shape(a, b, "dot");
  return detail::reduce_sum<T>(a.data(), b.data(), a.size());
}

}  // namespace perceptual::cuda
