#pragma once
// Pointwise activations on the GPU: ReLU and the scaled, clipped tanh that maps to pixel values,
// as in backend/cpu/activation.hpp. Declarations, for any compiler: a host compiler's program
// links their instances (instances.cu); nvcc also reads the kernels and definitions (activation.cuh).
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

// y = max(x, 0) into `y` (x's shape; it may be x itself).
template <class T>
void relu_forward(const Tensor<T, Cuda>& x, Tensor<T, Cuda>& y);
template <class T>
Tensor<T, Cuda> relu_forward(const Tensor<T, Cuda>& x);

// dL/dx from the forward output y, dy where y > 0, into `dx` (dy's shape; it may be dy itself).
template <class T>
void relu_backward(const Tensor<T, Cuda>& y, const Tensor<T, Cuda>& dy, Tensor<T, Cuda>& dx);
template <class T>
Tensor<T, Cuda> relu_backward(const Tensor<T, Cuda>& y, const Tensor<T, Cuda>& dy);

// y = clamp(scale * tanh(x) + offset, lo, hi)
template <class T>
Tensor<T, Cuda> scaled_tanh_forward(const Tensor<T, Cuda>& x, T scale, T offset, T lo, T hi);

// dL/dx from the forward input x: zero where the output was clipped.
template <class T>
Tensor<T, Cuda> scaled_tanh_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, T scale, T offset, T lo,
                                     T hi);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/activation.cuh"
#endif
