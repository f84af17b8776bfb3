#pragma once
// conv.hpp's kernels and definitions, for nvcc (conv.hpp includes this file there); a host
// compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/conv.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <algorithm>
#include <cstddef>
#include <string>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cuda/conv.hpp"
#include "perceptual/backend/cuda/plan_cache.hpp"
#include "perceptual/backend/cuda/pointwise.cuh"
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/core/conv_geometry.hpp"

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

using checks::require_conv_operand;

// The geometry cuDNN runs for g: g itself where cuDNN's symmetric padding gives exactly g's
// output, else g unpadded on an input window of (out - 1) * stride + k, which the caller cuts
// out of the input, zero-padded, with window (above).
inline ConvGeometry cudnn_geometry(const ConvGeometry& g) {
  if (cudnn_out_size(g.in_h(), g.pad_top(), g.k(), g.stride()) == g.out_h() &&
      cudnn_out_size(g.in_w(), g.pad_left(), g.k(), g.stride()) == g.out_w())
    return g;
  ConvGeometry::Sizes s = g.sizes();
  s.input = {(g.out_h() - 1) * g.stride() + g.k(), (g.out_w() - 1) * g.stride() + g.k()};
  s.pad_top = s.pad_left = 0;
  return ConvGeometry(s);
}

template <class T>
__global__ void add_bias_kernel(T* y, const T* bias, std::size_t n, int channels, std::size_t plane) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = static_cast<T>(static_cast<C>(y[i]) + static_cast<C>(bias[(i / plane) % channels]));
}

// The bias gradient over a channels x parts grid, so that a few channels of large planes still
// fill the GPU: block (part, c) sums, in double as the CPU backend does, the values of chunk s of
// plane (n, c), part = n * splits + s; then one thread per channel adds its parts in order. No
// atomics: the same bits every run.
inline constexpr std::size_t bias_chunk = 4096;

template <class T>
__global__ void bias_partials_kernel(double* partial, const T* dy, int channels, std::size_t plane, unsigned splits) {
  const int c = static_cast<int>(blockIdx.y);
  const std::size_t n = blockIdx.x / splits, begin = (blockIdx.x % splits) * bias_chunk;
  const std::size_t end = begin + bias_chunk < plane ? begin + bias_chunk : plane;
  const T* p = dy + (n * static_cast<std::size_t>(channels) + c) * plane;
  double s = 0;
  for (std::size_t i = begin + threadIdx.x; i < end; i += blockDim.x) s += static_cast<double>(p[i]);
  s = block_sum(s);
  if (threadIdx.x == 0) partial[static_cast<std::size_t>(c) * gridDim.x + blockIdx.x] = s;
}

template <class T>
__global__ void bias_merge_kernel(T* db, const double* partial, int channels, unsigned parts) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= channels) return;
  double s = 0;
  for (unsigned j = 0; j < parts; ++j) s += partial[static_cast<std::size_t>(c) * parts + j];
  db[c] = static_cast<T>(s);
}

}  // namespace detail

template <class T>
Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& w, const ConvGeometry& g) {
  const std::string where = "conv2d_forward";
  detail::require_conv_operand(x, g.input_shape(), "input", g, where);
  detail::require_conv_operand(w, g.filter_shape(), "weight", g, where);
  const ConvGeometry run = detail::cudnn_geometry(g);
  Tensor<T, Cuda> padded;
  if (run != g) padded = detail::window(x, run.in_h(), run.in_w(), g.pad_top(), g.pad_left());
  const Tensor<T, Cuda>& input = run == g ? x : padded;

  Tensor<T, Cuda> y(g.output_shape());
  detail::conv_plan(detail::conv_key<T>(ConvOp::forward, run)).run_forward(input.data(), w.data(), y.data());
  return y;
}

template <class T>
Tensor<T, Cuda> conv2d_backward_data(const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& w, const ConvGeometry& g) {
  const std::string where = "conv2d_backward_data";
  detail::require_conv_operand(dy, g.output_shape(), "gradient", g, where);
  detail::require_conv_operand(w, g.filter_shape(), "weight", g, where);
  const ConvGeometry run = detail::cudnn_geometry(g);

  Tensor<T, Cuda> dx(run.input_shape());
  detail::conv_plan(detail::conv_key<T>(ConvOp::backward_data, run)).run_backward_data(dy.data(), w.data(), dx.data());
  // The adjoint of the zero-padding window is the window back: crop, and zeros where the
  // forward pass never read.
  return run == g ? dx : detail::window(dx, g.in_h(), g.in_w(), -g.pad_top(), -g.pad_left());
}

template <class T>
Tensor<T, Cuda> conv2d_backward_filter(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const ConvGeometry& g) {
  const std::string where = "conv2d_backward_filter";
  detail::require_conv_operand(x, g.input_shape(), "input", g, where);
  detail::require_conv_operand(dy, g.output_shape(), "gradient", g, where);
  const ConvGeometry run = detail::cudnn_geometry(g);
  Tensor<T, Cuda> padded;
  if (run != g) padded = detail::window(x, run.in_h(), run.in_w(), g.pad_top(), g.pad_left());
  const Tensor<T, Cuda>& input = run == g ? x : padded;

  Tensor<T, Cuda> dw(g.filter_shape());
  detail::conv_plan(detail::conv_key<T>(ConvOp::backward_filter, run))
      .run_backward_filter(input.data(), dy.data(), dw.data());
  return dw;
}

template <class T>
void add_bias(Tensor<T, Cuda>& y, const Tensor<T, Cuda>& bias) {
  checks::require_bias(bias, y.c(), "add_bias");
  if (y.empty()) return;
  detail::add_bias_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), bias.data(), y.size(), y.c(), y.shape().plane());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& w, const Tensor<T, Cuda>& bias,
                               const ConvGeometry& g) {
  Tensor<T, Cuda> y = conv2d_forward(x, w, g);
  add_bias(y, bias);
  return y;
}

template <class T>
Tensor<T, Cuda> bias_backward(const Tensor<T, Cuda>& dy) {
  Tensor<T, Cuda> db({1, dy.c(), 1, 1});  // zero-filled: the gradient of an empty batch
  if (db.empty() || dy.empty()) return db;
  if (dy.c() > 65535) throw ShapeError("bias_backward: " + to_string(dy.shape()) + " has more than 65535 channels");
  const std::size_t plane = dy.shape().plane();
  const auto splits =
      static_cast<unsigned>(std::max<std::size_t>(1, (plane + detail::bias_chunk - 1) / detail::bias_chunk));
  const unsigned parts = static_cast<unsigned>(dy.n()) * splits;
  Tensor<double, Cuda> partial({1, 1, dy.c(), static_cast<int>(parts)});
  const cudaStream_t stream = context().stream();
  detail::bias_partials_kernel<<<dim3(parts, static_cast<unsigned>(dy.c())), detail::block_threads, 0, stream>>>(
      partial.data(), dy.data(), dy.c(), plane, splits);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  detail::bias_merge_kernel<<<(static_cast<unsigned>(dy.c()) + detail::block_threads - 1) / detail::block_threads,
                              detail::block_threads, 0, stream>>>(db.data(), partial.data(), dy.c(), parts);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return db;
}

}  // namespace perceptual::cuda
