#pragma once
// Element-wise operations and reductions on the GPU, with the CPU backend's names and meaning
// (backend/cpu/pointwise.hpp). Declarations, for any compiler: a host compiler's program links
// their instances (instances.cu); nvcc also reads the kernels and definitions (pointwise.cuh).
#include <vector>

#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

// channel_affine's coefficients: up to affine_by_value channels (VGG's 3) in the kernel's argument,
// which travels with the launch, so the call neither copies to the device nor waits for the host;
// more, in device memory.
inline constexpr int affine_by_value = 64;

}  // namespace detail

template <class T>
void fill(Tensor<T, Cuda>& x, T value);

// y += alpha * x
template <class T>
void axpy(Tensor<T, Cuda>& y, T alpha, const Tensor<T, Cuda>& x);

// x *= alpha
template <class T>
void scale(Tensor<T, Cuda>& x, T alpha);

template <class T>
Tensor<T, Cuda> add(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b);

// y[n, c] = x[n, c] * scale[c] + shift[c]: per-channel normalisation with fixed statistics.
template <class T>
Tensor<T, Cuda> channel_affine(const Tensor<T, Cuda>& x, const std::vector<T>& scale, const std::vector<T>& shift);

// Sum of all elements, accumulated in double.
template <class T>
double sum(const Tensor<T, Cuda>& x);

// Inner product of two tensors of one shape, accumulated in double.
template <class T>
double dot(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/pointwise.cuh"
#endif
