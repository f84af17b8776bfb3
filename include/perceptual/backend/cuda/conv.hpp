#pragma once
// Convolution on the GPU through cuDNN, with its two adjoints, per-channel bias and reflection
// padding, with backend/cpu/conv.hpp's signatures and meaning: padding is (top, left) plus the
// output size, reads outside the input are zero. cuDNN pads both sides alike, so a geometry it
// cannot express (TensorFlow's SAME, an output cropped short) runs on a zero-padded copy of the
// input instead. Algorithms are chosen once per shape, math and search (deterministic ones only,
// so backward passes repeat bit for bit) and cached with their workspace (plan_cache.hpp).
// Reflection padding is in pad.hpp. Contains kernels: include from .cu files compiled by nvcc.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/conv.hpp has CUDA kernels: include it from a .cu file compiled by nvcc"
#endif
#include <cstddef>
#include <string>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cuda/pad.hpp"
#include "perceptual/backend/cuda/plan_cache.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

// Output size cuDNN gives for one dimension with padding `pad` on both sides.
constexpr int cudnn_out_size(int in, int pad, int k, int stride) {
  return in + 2 * pad < k ? 0 : (in + 2 * pad - k) / stride + 1;
}

// dst[p, i, j] = src[p, i - off_y, j - off_x], zero outside src: pads (offsets > 0) and crops
// (offsets < 0, or dst smaller than src) each of `planes` planes.
template <class T>
__global__ void window_kernel(T* dst, int dst_h, int dst_w, const T* src, int src_h, int src_w, int off_y, int off_x,
                              std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int x = static_cast<int>(i % dst_w);
    const int y = static_cast<int>(i / dst_w % dst_h);
    const std::size_t p = i / (static_cast<std::size_t>(dst_w) * dst_h);
    const int sy = y - off_y, sx = x - off_x;
    dst[i] = (sy >= 0 && sy < src_h && sx >= 0 && sx < src_w)
                 ? src[(p * src_h + sy) * static_cast<std::size_t>(src_w) + sx]
                 : T(0);
  }
}

template <class T>
Tensor<T, Cuda> window(const Tensor<T, Cuda>& src, int h, int w, int off_y, int off_x) {
  Tensor<T, Cuda> dst({src.n(), src.c(), h, w});
  window_kernel<<<grid_blocks(dst.size()), block_threads, 0, context().stream()>>>(
      dst.data(), h, w, src.data(), src.h(), src.w(), off_y, off_x, dst.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dst;
}

using checks::conv_geometry;

using checks::require_square_filter;

// How one convolution runs in cuDNN: directly with symmetric padding when that gives exactly
// the requested output, else unpadded on an input window of (out - 1) * stride + k.
struct ConvRoute {
  bool direct;
  int in_h, in_w, pad_h, pad_w;  // the input cuDNN sees, and its padding
};

inline ConvRoute route(int stride, int pad_top, int pad_left, int k, int in_h, int in_w, int out_h, int out_w) {
  if (cudnn_out_size(in_h, pad_top, k, stride) == out_h && cudnn_out_size(in_w, pad_left, k, stride) == out_w)
    return {true, in_h, in_w, pad_top, pad_left};
  return {false, (out_h - 1) * stride + k, (out_w - 1) * stride + k, 0, 0};
}

}  // namespace detail

// y[n, o, oy, ox] = sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*stride - pad_top + ky, ox*stride - pad_left + kx],
// zero outside x. x: N x C x H x W, w: O x C x K x K; y: N x O x out_h x out_w.
template <class T>
Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& w, int stride, int pad_top,
                               int pad_left, int out_h, int out_w) {
  const std::string where = "conv2d_forward";
  detail::require_square_filter(w, where);
  if (x.c() != w.c())
    throw ShapeError(where + ": input " + to_string(x.shape()) + " has " + std::to_string(x.c()) +
                     " channels, weight " + to_string(w.shape()) + " expects " + std::to_string(w.c()));
  const int k = w.h();
  detail::conv_geometry(stride, pad_top, pad_left, k, x.h(), x.w(), out_h, out_w, where);
  const auto r = detail::route(stride, pad_top, pad_left, k, x.h(), x.w(), out_h, out_w);
  Tensor<T, Cuda> padded;
  if (!r.direct) padded = detail::window(x, r.in_h, r.in_w, pad_top, pad_left);
  const Tensor<T, Cuda>& input = r.direct ? x : padded;

  Tensor<T, Cuda> y({x.n(), w.n(), out_h, out_w});
  const auto key =
      detail::conv_key<T>(detail::ConvPass::forward, x.n(), x.c(), r.in_h, r.in_w, w.n(), k, stride, r.pad_h, r.pad_w);
  detail::conv_plan(key).run_forward(input.data(), w.data(), y.data());
  return y;
}

// The adjoint of conv2d_forward in x: dx (N x C x in_h x in_w) from dy (N x O x out_h x out_w).
// It is also the forward pass of a transposed convolution.
template <class T>
Tensor<T, Cuda> conv2d_backward_data(const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& w, int stride, int pad_top,
                                     int pad_left, int in_h, int in_w) {
  const std::string where = "conv2d_backward_data";
  detail::require_square_filter(w, where);
  if (dy.c() != w.n())
    throw ShapeError(where + ": gradient " + to_string(dy.shape()) + " has " + std::to_string(dy.c()) +
                     " channels, weight " + to_string(w.shape()) + " has " + std::to_string(w.n()) + " outputs");
  const int k = w.h();
  detail::conv_geometry(stride, pad_top, pad_left, k, in_h, in_w, dy.h(), dy.w(), where);
  const auto r = detail::route(stride, pad_top, pad_left, k, in_h, in_w, dy.h(), dy.w());

  Tensor<T, Cuda> dx({dy.n(), w.c(), r.in_h, r.in_w});
  const auto key = detail::conv_key<T>(detail::ConvPass::backward_data, dy.n(), w.c(), r.in_h, r.in_w, w.n(), k, stride,
                                       r.pad_h, r.pad_w);
  detail::conv_plan(key).run_backward_data(dy.data(), w.data(), dx.data());
  // The adjoint of the zero-padding window is the window back: crop, and zeros where the
  // forward pass never read.
  return r.direct ? dx : detail::window(dx, in_h, in_w, -pad_top, -pad_left);
}

// The adjoint of conv2d_forward in w: dw (O x C x k x k) for one batch, not accumulated into an
// existing gradient (the caller adds it, so frozen layers pay nothing).
template <class T>
Tensor<T, Cuda> conv2d_backward_filter(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, int stride, int pad_top,
                                       int pad_left, int k) {
  const std::string where = "conv2d_backward_filter";
  if (x.n() != dy.n())
    throw ShapeError(where + ": input " + to_string(x.shape()) + " and gradient " + to_string(dy.shape()) +
                     " differ in batch size");
  detail::conv_geometry(stride, pad_top, pad_left, k, x.h(), x.w(), dy.h(), dy.w(), where);
  const auto r = detail::route(stride, pad_top, pad_left, k, x.h(), x.w(), dy.h(), dy.w());
  Tensor<T, Cuda> padded;
  if (!r.direct) padded = detail::window(x, r.in_h, r.in_w, pad_top, pad_left);
  const Tensor<T, Cuda>& input = r.direct ? x : padded;

  Tensor<T, Cuda> dw({dy.c(), x.c(), k, k});
  const auto key = detail::conv_key<T>(detail::ConvPass::backward_filter, x.n(), x.c(), r.in_h, r.in_w, dy.c(), k,
                                       stride, r.pad_h, r.pad_w);
  detail::conv_plan(key).run_backward_filter(input.data(), dy.data(), dw.data());
  return dw;
}

namespace detail {

template <class T>
__global__ void add_bias_kernel(T* y, const T* bias, std::size_t n, int channels, std::size_t plane) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = static_cast<T>(static_cast<C>(y[i]) + static_cast<C>(bias[(i / plane) % channels]));
}

// One block per channel, summing in double as the CPU backend does.
template <class T>
__global__ void bias_backward_kernel(T* db, const T* dy, int batch, int channels, std::size_t plane) {
  __shared__ double partial[block_threads];
  const int c = blockIdx.x;
  double s = 0;
  for (int n = 0; n < batch; ++n) {
    const T* p = dy + (static_cast<std::size_t>(n) * channels + c) * plane;
    for (std::size_t i = threadIdx.x; i < plane; i += blockDim.x) s += static_cast<double>(p[i]);
  }
  partial[threadIdx.x] = s;
  __syncthreads();
  for (unsigned stride = block_threads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[c] = static_cast<T>(partial[0]);
}

}  // namespace detail

// y[n, c, :, :] += bias[c]; bias has shape 1 x C x 1 x 1.
template <class T>
void add_bias(Tensor<T, Cuda>& y, const Tensor<T, Cuda>& bias) {
  if (bias.shape() != Shape4{1, y.c(), 1, 1})
    throw ShapeError("add_bias: bias " + to_string(bias.shape()) + " for output " + to_string(y.shape()) +
                     ", expected 1x" + std::to_string(y.c()) + "x1x1");
  if (y.empty()) return;
  detail::add_bias_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), bias.data(), y.size(), y.c(), y.shape().plane());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

// The bias gradient: dy summed over batch, height and width, shape 1 x C x 1 x 1.
template <class T>
Tensor<T, Cuda> bias_backward(const Tensor<T, Cuda>& dy) {
  Tensor<T, Cuda> db({1, dy.c(), 1, 1});
  if (db.empty()) return db;
  detail::bias_backward_kernel<<<static_cast<unsigned>(dy.c()), detail::block_threads, 0, context().stream()>>>(
      db.data(), dy.data(), dy.n(), dy.c(), dy.shape().plane());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return db;
}

}  // namespace perceptual::cuda
