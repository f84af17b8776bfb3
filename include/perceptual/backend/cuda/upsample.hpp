#pragma once
// Nearest-neighbour upsampling by an integer factor on the GPU, as backend/cpu/upsample.hpp:
// each value becomes a factor x factor block; backward gathers each block's sum (one thread per
// input value, the CPU's row-major order, no atomics). Declarations, for any compiler: a host
// compiler's program links their instances (instances.cu); nvcc also reads the kernels and
// definitions (upsample.cuh).
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

template <class T>
Tensor<T, Cuda> upsample_nearest_forward(const Tensor<T, Cuda>& x, int factor);

// dL/dx: the sum of dy over each factor x factor block.
template <class T>
Tensor<T, Cuda> upsample_nearest_backward(const Tensor<T, Cuda>& dy, int factor);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/upsample.cuh"
#endif
