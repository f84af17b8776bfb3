#pragma once
// upsample.hpp's kernels and definitions, for nvcc (upsample.hpp includes this file there); a
// host compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/upsample.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <cstddef>
#include <string>

#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/backend/cuda/upsample.hpp"

namespace perceptual::cuda {

namespace detail {

// y is (h * factor) x (w * factor) per plane.
template <class T>
__global__ void upsample_nearest_kernel(T* y, const T* x, int h, int w, int factor, std::size_t n) {
  const int ow = w * factor, oh = h * factor;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int j = static_cast<int>(i % ow);
    const int r = static_cast<int>(i / ow % oh);
    const std::size_t p = i / (static_cast<std::size_t>(ow) * oh);
    y[i] = x[(p * h + r / factor) * static_cast<std::size_t>(w) + j / factor];
  }
}

// dx is h x w per plane, dy (h * factor) x (w * factor).
template <class T>
__global__ void upsample_nearest_backward_kernel(T* dx, const T* dy, int h, int w, int factor, std::size_t n) {
  const int ow = w * factor, oh = h * factor;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int j = static_cast<int>(i % w);
    const int r = static_cast<int>(i / w % h);
    const std::size_t p = i / (static_cast<std::size_t>(w) * h);
    const T* g = dy + (p * oh + static_cast<std::size_t>(r) * factor) * ow + static_cast<std::size_t>(j) * factor;
    compute_t<T> s = 0;
    for (int a = 0; a < factor; ++a)
      for (int b = 0; b < factor; ++b) s += static_cast<compute_t<T>>(g[static_cast<std::size_t>(a) * ow + b]);
    dx[i] = static_cast<T>(s);
  }
}

}  // namespace detail

template <class T>
Tensor<T, Cuda> upsample_nearest_forward(const Tensor<T, Cuda>& x, int factor) {
  if (factor < 1) throw ArgumentError("upsample_nearest_forward: factor " + std::to_string(factor) + ", expected >= 1");
  const Shape4 s = x.shape();
  Tensor<T, Cuda> y({s.n, s.c, s.h * factor, s.w * factor});
  if (y.empty()) return y;
  detail::upsample_nearest_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), s.h, s.w, factor, y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

template <class T>
Tensor<T, Cuda> upsample_nearest_backward(const Tensor<T, Cuda>& dy, int factor) {
  const Shape4 s = dy.shape();
  if (factor < 1)
    throw ArgumentError("upsample_nearest_backward: factor " + std::to_string(factor) + ", expected >= 1");
  if (s.h % factor != 0 || s.w % factor != 0)
    throw ShapeError("upsample_nearest_backward: gradient " + to_string(s) + " is not a multiple of the factor " +
                     std::to_string(factor));
  Tensor<T, Cuda> dx({s.n, s.c, s.h / factor, s.w / factor});
  if (dx.empty()) return dx;
  detail::upsample_nearest_backward_kernel<<<detail::grid_blocks(dx.size()), detail::block_threads, 0,
                                             context().stream()>>>(dx.data(), dy.data(), dx.h(), dx.w(), factor,
                                                                   dx.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dx;
}

}  // namespace perceptual::cuda
