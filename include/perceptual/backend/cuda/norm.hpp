#pragma once
// Instance and batch normalisation on the GPU, with backend/cpu/norm.hpp's signatures and saved
// statistics (mean and 1/sqrt(var + eps): N x C x 1 x 1 for instance norm, 1 x C x 1 x 1 for
// batch norm), which may be wider than the tensor: the layers keep bf16's in float, since a
// bf16 mean of activations far from zero is off by a visible part of their spread. Results are
// bit-identical run to run (and from one device to another): norm.cuh says how. Declarations, for
// any compiler: a host compiler's program links their instances (instances.cu); nvcc also reads
// the kernels and definitions (norm.cuh).
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/core/epilogue.hpp"

namespace perceptual::cuda {

// Per sample and channel over H and W, biased variance: y = epilogue(norm(x)), into `y` (x's
// shape; it may be x itself). Writes `save_mean` and `save_inv_std` (N x C x 1 x 1, of type S: T,
// or float for bf16 as the layers keep them) for instance_norm_backward.
template <class T, class S>
void instance_norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                           double eps, Tensor<S, Cuda>& save_mean, Tensor<S, Cuda>& save_inv_std, Tensor<T, Cuda>& y,
                           const NormEpilogue<T, Cuda>& epilogue);
template <class T, class S>
Tensor<T, Cuda> instance_norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                      const Tensor<T, Cuda>& bias, double eps, Tensor<S, Cuda>& save_mean,
                                      Tensor<S, Cuda>& save_inv_std);

// dL/dx; adds dL/dweight and dL/dbias into `dweight` and `dbias` unless they are nullptr.
template <class T, class S>
Tensor<T, Cuda> instance_norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy,
                                       const Tensor<T, Cuda>& weight, const Tensor<S, Cuda>& save_mean,
                                       const Tensor<S, Cuda>& save_inv_std, Tensor<T, Cuda>* dweight,
                                       Tensor<T, Cuda>* dbias);

// Per channel over N, H and W with the batch's biased variance: y = epilogue(norm(x)), into `y`
// (x's shape; it may be x itself). Saves the batch's statistics (1 x C x 1 x 1, of type S as
// instance_norm_forward's) for batch_norm_backward and moves the running ones towards them by
// `momentum`, the running variance towards the unbiased batch variance (as PyTorch).
template <class T, class S>
void batch_norm_forward_training(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                                 double eps, double momentum, Tensor<T, Cuda>& running_mean,
                                 Tensor<T, Cuda>& running_var, Tensor<S, Cuda>& save_mean,
                                 Tensor<S, Cuda>& save_inv_std, Tensor<T, Cuda>& y,
                                 const NormEpilogue<T, Cuda>& epilogue);
template <class T, class S>
Tensor<T, Cuda> batch_norm_forward_training(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                            const Tensor<T, Cuda>& bias, double eps, double momentum,
                                            Tensor<T, Cuda>& running_mean, Tensor<T, Cuda>& running_var,
                                            Tensor<S, Cuda>& save_mean, Tensor<S, Cuda>& save_inv_std);

// Per channel with the running statistics, a fixed affine map: y = epilogue(norm(x)), into `y`
// (x's shape; it may be x itself).
template <class T>
void batch_norm_forward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                                  const Tensor<T, Cuda>& running_mean, const Tensor<T, Cuda>& running_var, double eps,
                                  Tensor<T, Cuda>& y, const NormEpilogue<T, Cuda>& epilogue);
template <class T>
Tensor<T, Cuda> batch_norm_forward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                             const Tensor<T, Cuda>& bias, const Tensor<T, Cuda>& running_mean,
                                             const Tensor<T, Cuda>& running_var, double eps);

// Backward of batch_norm_forward_training, from its saved statistics. dL/dx; adds dL/dweight and
// dL/dbias into `dweight` and `dbias` unless they are nullptr.
template <class T, class S>
Tensor<T, Cuda> batch_norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& weight,
                                    const Tensor<S, Cuda>& save_mean, const Tensor<S, Cuda>& save_inv_std,
                                    Tensor<T, Cuda>* dweight, Tensor<T, Cuda>* dbias);

// Backward of batch_norm_forward_inference: the statistics are constants.
template <class T>
Tensor<T, Cuda> batch_norm_backward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy,
                                              const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& running_mean,
                                              const Tensor<T, Cuda>& running_var, double eps, Tensor<T, Cuda>* dweight,
                                              Tensor<T, Cuda>* dbias);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/norm.cuh"
#endif
