#pragma once
// The kernels behind the losses on the GPU, with backend/cpu/loss.hpp's names and meaning: Gram
// matrices through cuBLAS (strided-batched GEMM over the batch, on the backend's stream; float
// for bf16 features), squared distances with a broadcast batch and squared total variation. Sums
// are accumulated in double, one partial per block, added on the host in block order:
// deterministic. Includes pointwise.hpp, whose scale() the style loss uses. Declarations, for any
// compiler: a host compiler's program links their instances (instances.cu); nvcc also reads the
// kernels and definitions (loss.cuh).
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/pointwise.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

// Per image, G = F F^T / (C*H*W) with F the C x (H*W) view of the features (Johnson eq. 3).
// Input N x C x H x W, output N x 1 x C x C in compute_t<T>: float for bf16 features, because the
// style loss subtracts a target Gram, and G - G_s keeps only the digits in which the two differ:
// stored in bf16 each would be off by up to 2^-9 |G|, an error of about 2^-9 |G| / |G - G_s| in
// the difference, which near convergence is most of it. Each product of two bf16 values is exact
// in float, and cuBLAS accumulates in float.
template <class T>
Tensor<detail::compute_t<T>, Cuda> gram_forward(const Tensor<T, Cuda>& f);

// dL/dF = (dL/dG + dL/dG^T) F / (C*H*W), per image; dg is N x 1 x C x C, in the features' type or
// in gram_forward's (float for bf16). The symmetrised gradient is stored in T for the GEMM (its
// operands share a type): for bf16 that rounds the gradient itself, once, by 2^-9 relative, after
// the cancellation in G - G_s has happened in float.
template <class T, class G>
Tensor<T, Cuda> gram_backward(const Tensor<T, Cuda>& f, const Tensor<G, Cuda>& dg);

// sum over all elements of (a - b)^2, b broadcast over a's batch when it has batch 1.
template <class T>
double squared_distance(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b);

// alpha * (a - b), b broadcast as in squared_distance: the gradient of alpha/2 * squared_distance.
template <class T>
Tensor<T, Cuda> scaled_difference(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b, T alpha);

// Squared total variation with separate weights for the two directions:
//   sum_{n,c} wy * sum_{i<H-1, j} (x[i+1,j] - x[i,j])^2 + wx * sum_{i, j<W-1} (x[i,j+1] - x[i,j])^2.
template <class T>
double total_variation_forward(const Tensor<T, Cuda>& x, T wy, T wx);

// Gradient of total_variation_forward with respect to x.
template <class T>
Tensor<T, Cuda> total_variation_backward(const Tensor<T, Cuda>& x, T wy, T wx);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/loss.cuh"
#endif
