#pragma once
// Reflection padding on the GPU and its adjoint, as in backend/cpu/conv.hpp (PyTorch's
// ReflectionPad2d: the edge is not repeated). Declarations, for any compiler: a host compiler's
// program links their instances (instances.cu); nvcc also reads the kernels and definitions (pad.cuh).
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

// Reflection padding: N x C x (H + top + bottom) x (W + left + right).
template <class T>
Tensor<T, Cuda> reflect_pad(const Tensor<T, Cuda>& x, int top, int bottom, int left, int right);

// The adjoint of reflect_pad: each input entry gathers the padded gradient entries copied from it.
template <class T>
Tensor<T, Cuda> reflect_pad_backward(const Tensor<T, Cuda>& dy, int top, int bottom, int left, int right);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/pad.cuh"
#endif
