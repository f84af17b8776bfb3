#pragma once
// The kernels behind the optimisers on the GPU, with backend/cpu/optim.hpp's names and meaning:
// the fused Adam update, box projection for bounded L-BFGS, and the norms their stopping tests
// use. Reductions leave one double partial per block, combined on the host in block order, so
// they are deterministic. Declarations, for any compiler: a host compiler's program links their
// instances (instances.cu); nvcc also reads the kernels and definitions (optim.cuh).
#include <cstddef>
#include <cstdint>

#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

// One Adam step (Kingma & Ba, algorithm 1, in PyTorch's form) for the step-th update (from 1):
//   m = beta1 m + (1-beta1) g;  v = beta2 v + (1-beta2) g^2;
//   param -= lr * (m / (1-beta1^step)) / (sqrt(v / (1-beta2^step)) + eps).
// The bias corrections are computed in double on the host, as on the CPU. The moments M are
// compute_t<T>: the parameter's type, float for bf16 (optim::moment_t, which Adam allocates).
template <class T, class M>
void adam_update(Tensor<T, Cuda>& param, const Tensor<T, Cuda>& grad, Tensor<M, Cuda>& m, Tensor<M, Cuda>& v, double lr,
                 double beta1, double beta2, double eps, std::int64_t step);

// x = clamp(x, lo, hi) element-wise; infinite bounds leave x as it is.
template <class T>
void box_project(Tensor<T, Cuda>& x, T lo, T hi);

// mask = 1 on the free variables, 0 on the binding set (x at a bound with the gradient g pushing
// outward); returns the size of the binding set (waits for the device).
template <class T>
std::size_t box_free_mask(Tensor<T, Cuda>& mask, const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& g, T lo, T hi);

// x *= mask element-wise (mask of 0s and 1s from box_free_mask).
template <class T>
void apply_mask(Tensor<T, Cuda>& x, const Tensor<T, Cuda>& mask);

// Zeroes the components of a search direction d that cannot move x inside [lo, hi]: those of the
// binding set (x at a bound with g pushing outward) and those where d itself points outward.
template <class T>
void box_mask_direction(Tensor<T, Cuda>& d, const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& g, T lo, T hi);

// max_i |clamp(x_i - g_i, lo, hi) - x_i|: the projected gradient's infinity norm, zero exactly at
// a first-order (KKT) point of the box-constrained problem; max |g_i| without bounds.
template <class T>
double box_projected_gradient_max(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& g, T lo, T hi);

// max_i |x_i| (0 for an empty tensor).
template <class T>
double max_abs(const Tensor<T, Cuda>& x);

// sum_i |x_i|, accumulated in double.
template <class T>
double abs_sum(const Tensor<T, Cuda>& x);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/optim.cuh"
#endif
