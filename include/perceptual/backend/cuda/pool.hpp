#pragma once
// 2x2, stride-2 max and average pooling on the GPU, as backend/cpu/pool.hpp: odd sizes floor,
// max-pool backward recomputes each window's argmax from the input (the first on ties, NaN wins).
// One thread per window; windows do not overlap, so backward needs no atomics. Declarations, for
// any compiler: a host compiler's program links their instances (instances.cu); nvcc also reads
// the kernels and definitions (pool.cuh).
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

template <class T>
Tensor<T, Cuda> max_pool2x2_forward(const Tensor<T, Cuda>& x);

// dL/dx: each dy goes to its window's argmax in the forward input x.
template <class T>
Tensor<T, Cuda> max_pool2x2_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy);

template <class T>
Tensor<T, Cuda> avg_pool2x2_forward(const Tensor<T, Cuda>& x);

// dL/dx for an input of `input_shape`: a quarter of each dy to each value of its window; a
// dropped odd last row or column gets zero.
template <class T>
Tensor<T, Cuda> avg_pool2x2_backward(const Tensor<T, Cuda>& dy, Shape4 input_shape);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/pool.cuh"
#endif
