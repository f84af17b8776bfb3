#pragma once
// pad.hpp's kernels and definitions, for nvcc (pad.hpp includes this file there); a host
// compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/pad.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <cstddef>
#include <string>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/pad.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

__host__ __device__ constexpr int reflect_index(int i, int size) {
  if (i < 0) return -i;
  if (i >= size) return 2 * (size - 1) - i;
  return i;
}

// The padded indices that read input index i (of `size`, padded by `before` and `after`): its
// own position and up to two mirror images. Gathering them keeps the adjoint free of atomics.
__device__ inline int reflect_sources(int i, int size, int before, int after, int* out) {
  int count = 0;
  out[count++] = before + i;
  if (i >= 1 && i <= before) out[count++] = before - i;
  if (i <= size - 2 && i >= size - 1 - after) out[count++] = before + 2 * (size - 1) - i;
  return count;
}

template <class T>
__global__ void reflect_pad_kernel(T* y, const T* x, int h, int w, int top, int left, int ph, int pw, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int j = static_cast<int>(i % pw);
    const int r = static_cast<int>(i / pw % ph);
    const std::size_t p = i / (static_cast<std::size_t>(pw) * ph);
    y[i] = x[(p * h + reflect_index(r - top, h)) * static_cast<std::size_t>(w) + reflect_index(j - left, w)];
  }
}

template <class T>
__global__ void reflect_pad_backward_kernel(T* dx, const T* dy, int h, int w, int top, int bottom, int left, int right,
                                            std::size_t n) {
  const int ph = h + top + bottom, pw = w + left + right;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int j = static_cast<int>(i % w);
    const int r = static_cast<int>(i / w % h);
    const std::size_t p = i / (static_cast<std::size_t>(w) * h);
    int rows[3], cols[3];
    const int nr = reflect_sources(r, h, top, bottom, rows);
    const int nc = reflect_sources(j, w, left, right, cols);
    compute_t<T> s = 0;
    for (int a = 0; a < nr; ++a)
      for (int b = 0; b < nc; ++b)
        s += static_cast<compute_t<T>>(dy[(p * ph + rows[a]) * static_cast<std::size_t>(pw) + cols[b]]);
    dx[i] = static_cast<T>(s);
  }
}

using checks::require_reflectable;

}  // namespace detail

template <class T>
Tensor<T, Cuda> reflect_pad(const Tensor<T, Cuda>& x, int top, int bottom, int left, int right) {
  detail::require_reflectable(x, top, bottom, left, right, "reflect_pad");
  const int ph = x.h() + top + bottom, pw = x.w() + left + right;
  Tensor<T, Cuda> y({x.n(), x.c(), ph, pw});
  if (y.empty()) return y;
  detail::reflect_pad_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), x.h(), x.w(), top, left, ph, pw, y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

template <class T>
Tensor<T, Cuda> reflect_pad_backward(const Tensor<T, Cuda>& dy, int top, int bottom, int left, int right) {
  const int h = dy.h() - top - bottom, w = dy.w() - left - right;
  if (h < 1 || w < 1)
    throw ShapeError("reflect_pad_backward: gradient " + to_string(dy.shape()) + " is smaller than its padding");
  Tensor<T, Cuda> dx({dy.n(), dy.c(), h, w});
  detail::require_reflectable(dx, top, bottom, left, right, "reflect_pad_backward");
  if (dx.empty()) return dx;
  detail::reflect_pad_backward_kernel<<<detail::grid_blocks(dx.size()), detail::block_threads, 0, context().stream()>>>(
      dx.data(), dy.data(), h, w, top, bottom, left, right, dx.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dx;
}

}  // namespace perceptual::cuda
