#pragma once
// Convolution on the GPU through cuDNN, with its two adjoints, per-channel bias and reflection
// padding, with backend/cpu/conv.hpp's signatures and meaning: each takes its ConvGeometry, whose
// padding is (top, left) plus the output size; reads outside the input are zero. cuDNN pads both sides alike, so a
// geometry it cannot express (TensorFlow's SAME, an output cropped short) runs on a zero-padded copy of the input
// instead. Algorithms are chosen once per shape, math and search (deterministic ones only, so backward passes repeat
// bit for bit) and cached with their workspace (plan_cache.hpp). Reflection padding is in pad.hpp. Declarations, for
// any compiler: a host compiler's program links their instances (instances.cu); nvcc also reads the kernels and
// definitions (conv.cuh).
#include "perceptual/backend/cuda/pad.hpp"
#include "perceptual/backend/cuda/plan_cache.hpp"
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/core/conv_geometry.hpp"

namespace perceptual::cuda {

// y[n, o, oy, ox] = sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*stride - pad_top + ky, ox*stride - pad_left + kx],
// zero outside x. x: g.input_shape(), w: g.filter_shape(); y: g.output_shape().
template <class T>
Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& w, const ConvGeometry& g);

// The adjoint of conv2d_forward in x: dx (g.input_shape()) from dy (g.output_shape()). It is also
// the forward pass of a transposed convolution.
template <class T>
Tensor<T, Cuda> conv2d_backward_data(const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& w, const ConvGeometry& g);

// The adjoint of conv2d_forward in w: dw (g.filter_shape()) for one batch, not accumulated into
// an existing gradient (the caller adds it, so frozen layers pay nothing).
template <class T>
Tensor<T, Cuda> conv2d_backward_filter(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const ConvGeometry& g);

// y[n, c, :, :] += bias[c]; bias has shape 1 x C x 1 x 1.
template <class T>
void add_bias(Tensor<T, Cuda>& y, const Tensor<T, Cuda>& bias);

// conv2d_forward plus bias[c] (shape 1 x O x 1 x 1) on output channel c: the CPU backend's fused
// form, here the convolution and then add_bias (cuDNN's fused bias needs its activation too).
template <class T>
Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& w, const Tensor<T, Cuda>& bias,
                               const ConvGeometry& g);

// The bias gradient: dy summed over batch, height and width, shape 1 x C x 1 x 1.
template <class T>
Tensor<T, Cuda> bias_backward(const Tensor<T, Cuda>& dy);

}  // namespace perceptual::cuda

#if defined(__CUDACC__)
#include "perceptual/backend/cuda/conv.cuh"
#endif
