#pragma once
// Convolution on the CPU, with its two adjoints (data and filter gradients), per-channel bias, and
// reflection padding. Each convolution takes its ConvGeometry (core/conv_geometry.hpp): padding is
// (top, left) plus the output size, reads outside the input are zero. Transposed
// convolutions are built from the same three primitives by the layers. Two routes: oneDNN
// (dnnl.hpp) for float, im2col + BLAS GEMM for double and for what oneDNN cannot express or runs
// slower; conv_route says which, from benchmarks/README.md's table.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cpu/blas.hpp"
#include "perceptual/backend/cpu/parallel.hpp"
#include "perceptual/backend/cpu/tensor.hpp"
#include "perceptual/core/conv_geometry.hpp"

// nvcc's front end (CUDA 13.0) aborts with an internal error on oneDNN's C++ header, so a CUDA
// translation unit, which uses the CPU backend only for host-side data and reference values,
// convolves on the CPU by im2col alone.
#if defined(__CUDACC__)
#define PERCEPTUAL_CPU_ONEDNN 0
#else
#define PERCEPTUAL_CPU_ONEDNN 1
#include "perceptual/backend/cpu/dnnl.hpp"
#endif

namespace perceptual::cpu {

// im2col: im2col + GEMM, any scalar, any geometry. onednn_nchw: oneDNN on the tensors as they are.
// onednn_blocked: oneDNN in the layouts it picks, with reorders in and out (float only).
enum class ConvRoute { im2col, onednn_nchw, onednn_blocked };

// The route every call takes, read off benchmarks/README.md ("Convolution: im2col + OpenBLAS against
// oneDNN"): oneDNN for float, 1.3-7x faster than im2col in most cells, in its blocked layouts
// (channels in blocks of 16; the reorders in and out pay for themselves), except on an image input
// (fewer than 16 channels, which blocking pads to 16): backward-data on im2col, which beat both
// oneDNN layouts by up to 3x there, and forward on NCHW up to one 256x256 image's outputs (where it
// matched im2col and beat the blocked layout by 1.4x). On more, NCHW forward is oneDNN's GEMM
// convolution, whose im2col is never cut into bands: 5.4x slower than blocked at 1920x1080, and
// at 3840x2160 not done after 15 minutes (blocked: 1 s). Double: im2col (oneDNN has no f64).
template <class T>
ConvRoute conv_route(ConvOp op, const ConvGeometry& g) {
  if constexpr (std::same_as<T, float> && PERCEPTUAL_CPU_ONEDNN) {
#if PERCEPTUAL_CPU_ONEDNN
    if (!onednn::can_implement(g)) return ConvRoute::im2col;
#endif
    if (g.c() >= 16 || op == ConvOp::backward_filter) return ConvRoute::onednn_blocked;
    if (op != ConvOp::forward) return ConvRoute::im2col;
    const std::int64_t outputs = std::int64_t{g.n()} * g.out_h() * g.out_w();
    return outputs <= 256 * 256 ? ConvRoute::onednn_nchw : ConvRoute::onednn_blocked;
  } else {
    return ConvRoute::im2col;
  }
}

namespace detail {

// The im2col buffer is cut into bands of output rows no larger than this, so that a 9x9 conv on a
// megapixel image costs tens of megabytes rather than gigabytes.
inline constexpr std::size_t im2col_budget_bytes = std::size_t{64} << 20;

// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
constexpr int taps(const ConvGeometry& g) {
  return g.c() * g.k() * g.k();
}
// 1x1, stride 1, no padding: x is its own im2col matrix.
constexpr bool is_pointwise(const ConvGeometry& g) {
  return g.k() == 1 && g.stride() == 1 && g.pad_top() == 0 && g.pad_left() == 0 && g.out_h() == g.in_h() &&
         g.out_w() == g.in_w();
}

constexpr int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Output positions o in [lo, hi) whose input tap o*stride - pad + k lies inside [0, in); lo <= out
// even when padding wider than the output puts every tap outside (im2col fills [0, lo) with zeros).
struct TapRange {
  int lo, hi;
};
constexpr TapRange tap_range(int in, int out, int stride, int pad, int k) {
  const int lo = std::clamp(-floor_div(k - pad, stride), 0, out);  // ceil((pad - k) / stride)
  const int hi = std::min(out, floor_div(in - 1 + pad - k, stride) + 1);
  return {lo, std::max(lo, hi)};
}

template <class T>
int band_rows(const ConvGeometry& g) {
  const std::size_t row_bytes = static_cast<std::size_t>(taps(g)) * static_cast<std::size_t>(g.out_w()) * sizeof(T);
  return static_cast<int>(
      std::clamp<std::size_t>(im2col_budget_bytes / row_bytes, 1, static_cast<std::size_t>(g.out_h())));
}

// Rows [r0, r1) of the im2col matrix of one image x (c, in_h, in_w): entry ((ci*k + ky)*k + kx,
// (oy - r0)*out_w + ox) = x(ci, oy*stride - pad_top + ky, ox*stride - pad_left + kx), or 0 outside.
// One thread: the copy is a few percent of the GEMM, and threads started here ran slower (by
// ~3% on 2 cores) while OpenBLAS's workers still spin after the previous GEMM.
template <class T>
void im2col(const T* x, const ConvGeometry& g, int r0, int r1, T* col) {
  const std::size_t cols = static_cast<std::size_t>(r1 - r0) * g.out_w();
  for (int ci = 0; ci < g.c(); ++ci) {
    const T* plane = x + static_cast<std::size_t>(ci) * g.in_h() * g.in_w();
    for (int ky = 0; ky < g.k(); ++ky) {
      for (int kx = 0; kx < g.k(); ++kx) {
        T* dst = col + static_cast<std::size_t>((ci * g.k() + ky) * g.k() + kx) * cols;
        const TapRange xs = tap_range(g.in_w(), g.out_w(), g.stride(), g.pad_left(), kx);
        const int shift = kx - g.pad_left();
        for (int oy = r0; oy < r1; ++oy, dst += g.out_w()) {
          const int iy = oy * g.stride() - g.pad_top() + ky;
          if (iy < 0 || iy >= g.in_h()) {
            std::fill(dst, dst + g.out_w(), T(0));
            continue;
          }
          const T* row = plane + static_cast<std::size_t>(iy) * g.in_w();
          std::fill(dst, dst + xs.lo, T(0));
          if (g.stride() == 1) {
            std::copy(row + xs.lo + shift, row + xs.hi + shift, dst + xs.lo);
          } else {
            for (int ox = xs.lo; ox < xs.hi; ++ox) dst[ox] = row[ox * g.stride() + shift];
          }
          std::fill(dst + xs.hi, dst + g.out_w(), T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: adds each column entry back onto the input position it was read from.
template <class T>
void col2im_add(const T* col, const ConvGeometry& g, int r0, int r1, T* x) {
  const std::size_t cols = static_cast<std::size_t>(r1 - r0) * g.out_w();
  for (int ci = 0; ci < g.c(); ++ci) {
    T* plane = x + static_cast<std::size_t>(ci) * g.in_h() * g.in_w();
    for (int ky = 0; ky < g.k(); ++ky) {
      for (int kx = 0; kx < g.k(); ++kx) {
        const T* src = col + static_cast<std::size_t>((ci * g.k() + ky) * g.k() + kx) * cols;
        const TapRange xs = tap_range(g.in_w(), g.out_w(), g.stride(), g.pad_left(), kx);
        const int shift = kx - g.pad_left();
        for (int oy = r0; oy < r1; ++oy, src += g.out_w()) {
          const int iy = oy * g.stride() - g.pad_top() + ky;
          if (iy < 0 || iy >= g.in_h()) continue;
          T* row = plane + static_cast<std::size_t>(iy) * g.in_w();
          if (g.stride() == 1) {  // contiguous: vectorises
            for (int ox = xs.lo; ox < xs.hi; ++ox) row[ox + shift] += src[ox];
          } else {
            for (int ox = xs.lo; ox < xs.hi; ++ox) row[ox * g.stride() + shift] += src[ox];
          }
        }
      }
    }
  }
}

// An uninitialised scratch buffer for one band of the im2col matrix.
template <class T>
PoolArray<T> band_buffer(const ConvGeometry& g) {
  return make_pool_array<T>(static_cast<std::size_t>(taps(g)) * band_rows<T>(g) * g.out_w());
}

// Sets `cols` values of each of the g.o() output rows starting at y (rows `stride` apart) to the
// channel's bias, or to 0 without one: the GEMM then adds onto them (beta 1).
template <class T>
void fill_bias(const ConvGeometry& g, const T* bias, T* y, std::size_t cols, std::size_t stride) {
  for (int o = 0; o < g.o(); ++o, y += stride) std::fill(y, y + cols, bias ? bias[o] : T(0));
}

// The im2col route on raw NCHW/OIHW memory of g's sizes, plus the bias (g.o() values) where it is
// not null; each output is overwritten in full.
template <class T>
void im2col_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const std::size_t in_plane = static_cast<std::size_t>(g.c()) * g.in_h() * g.in_w();
  const int out_plane = g.out_h() * g.out_w();
  const T beta = bias ? T(1) : T(0);
  if (is_pointwise(g)) {
    for (int n = 0; n < g.n(); ++n) {
      T* yn = y + static_cast<std::size_t>(n) * g.o() * out_plane;
      if (bias) fill_bias(g, bias, yn, out_plane, out_plane);
      gemm(false, false, g.o(), out_plane, g.c(), T(1), w, g.c(), x + n * in_plane, out_plane, beta, yn, out_plane);
    }
    return;
  }
  const int band = band_rows<T>(g);
  auto col = band_buffer<T>(g);
  for (int n = 0; n < g.n(); ++n) {
    T* yn = y + static_cast<std::size_t>(n) * g.o() * out_plane;
    for (int r0 = 0; r0 < g.out_h(); r0 += band) {
      const int r1 = std::min(g.out_h(), r0 + band);
      const int cols = (r1 - r0) * g.out_w();
      im2col(x + n * in_plane, g, r0, r1, col.get());
      // One band of output rows per channel: ldc = out_plane writes it in place.
      if (bias) fill_bias(g, bias, yn + r0 * g.out_w(), cols, out_plane);
      gemm(false, false, g.o(), cols, taps(g), T(1), w, taps(g), col.get(), cols, beta, yn + r0 * g.out_w(), out_plane);
    }
  }
}

template <class T>
void im2col_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const std::size_t in_plane = static_cast<std::size_t>(g.c()) * g.in_h() * g.in_w();
  const int out_plane = g.out_h() * g.out_w();
  if (is_pointwise(g)) {
    for (int n = 0; n < g.n(); ++n)
      gemm(true, false, g.c(), out_plane, g.o(), T(1), w, g.c(), dy + static_cast<std::size_t>(n) * g.o() * out_plane,
           out_plane, T(0), dx + n * in_plane, out_plane);
    return;
  }
  std::fill(dx, dx + g.n() * in_plane, T(0));  // col2im adds
  const int band = band_rows<T>(g);
  auto col = band_buffer<T>(g);
  for (int n = 0; n < g.n(); ++n) {
    const T* dyn = dy + static_cast<std::size_t>(n) * g.o() * out_plane;
    for (int r0 = 0; r0 < g.out_h(); r0 += band) {
      const int r1 = std::min(g.out_h(), r0 + band);
      const int cols = (r1 - r0) * g.out_w();
      gemm(true, false, taps(g), cols, g.o(), T(1), w, taps(g), dyn + r0 * g.out_w(), out_plane, T(0), col.get(), cols);
      col2im_add(col.get(), g, r0, r1, dx + n * in_plane);
    }
  }
}

template <class T>
void im2col_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  const std::size_t in_plane = static_cast<std::size_t>(g.c()) * g.in_h() * g.in_w();
  const int out_plane = g.out_h() * g.out_w();
  if (is_pointwise(g)) {
    for (int n = 0; n < g.n(); ++n)
      gemm(false, true, g.o(), g.c(), out_plane, T(1), dy + static_cast<std::size_t>(n) * g.o() * out_plane, out_plane,
           x + n * in_plane, out_plane, n == 0 ? T(0) : T(1), dw, g.c());
    return;
  }
  const int band = band_rows<T>(g);
  auto col = band_buffer<T>(g);
  bool first = true;
  for (int n = 0; n < g.n(); ++n) {
    const T* dyn = dy + static_cast<std::size_t>(n) * g.o() * out_plane;
    for (int r0 = 0; r0 < g.out_h(); r0 += band) {
      const int r1 = std::min(g.out_h(), r0 + band);
      const int cols = (r1 - r0) * g.out_w();
      im2col(x + n * in_plane, g, r0, r1, col.get());
      gemm(false, true, g.o(), taps(g), cols, T(1), dyn + r0 * g.out_w(), out_plane, col.get(), cols,
           first ? T(0) : T(1), dw, taps(g));
      first = false;
    }
  }
}

// Runs op on route (a route oneDNN cannot take is an ArgumentError); in0, in1, out as the public
// functions below order them: (x, w, y), (dy, w, dx), (x, dy, dw); bias: forward's, or nullptr.
template <class T>
void convolve(ConvOp op, ConvRoute route, const ConvGeometry& g, const T* in0, const T* in1, T* out,
              const T* bias = nullptr) {
  if (route == ConvRoute::im2col) {
    if (op == ConvOp::forward) im2col_forward(g, in0, in1, bias, out);
    if (op == ConvOp::backward_data) im2col_backward_data(g, in0, in1, out);
    if (op == ConvOp::backward_filter) im2col_backward_filter(g, in0, in1, out);
    return;
  }
#if PERCEPTUAL_CPU_ONEDNN
  if constexpr (std::same_as<T, float>) {
    if (onednn::can_implement(g)) {
      const auto layout = route == ConvRoute::onednn_nchw ? onednn::Layout::plain : onednn::Layout::blocked;
      if (op == ConvOp::forward) onednn::forward(g, in0, in1, bias, out, layout);
      if (op == ConvOp::backward_data) onednn::backward_data(g, in0, in1, out, layout);
      if (op == ConvOp::backward_filter) onednn::backward_filter(g, in0, in1, out, layout);
      return;
    }
  }
#endif
  throw ArgumentError("convolution: oneDNN takes float geometries with padding_r + stride > 0 only");
}

using checks::require_bias;
using checks::require_conv_operand;

// The public functions with the route given (tests and benchmarks compare routes); nullopt:
// conv_route's. bias: nullptr, or added as the output is written.
template <class T>
Tensor<T, Cpu> conv2d_forward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& w,
                              const std::type_identity_t<Tensor<T, Cpu>>* bias, const ConvGeometry& g,
                              std::optional<ConvRoute> route) {
  const std::string where = "conv2d_forward";
  require_conv_operand(x, g.input_shape(), "input", g, where);
  require_conv_operand(w, g.filter_shape(), "weight", g, where);
  if (bias) require_bias(*bias, g.o(), where);
  Tensor<T, Cpu> y(g.output_shape(), uninitialized);
  convolve(ConvOp::forward, route.value_or(conv_route<T>(ConvOp::forward, g)), g, x.data(), w.data(), y.data(),
           bias ? bias->data() : nullptr);
  return y;
}

template <class T>
Tensor<T, Cpu> conv2d_backward_data(const Tensor<T, Cpu>& dy, const Tensor<T, Cpu>& w, const ConvGeometry& g,
                                    std::optional<ConvRoute> route) {
  const std::string where = "conv2d_backward_data";
  require_conv_operand(dy, g.output_shape(), "gradient", g, where);
  require_conv_operand(w, g.filter_shape(), "weight", g, where);
  Tensor<T, Cpu> dx(g.input_shape(), uninitialized);
  convolve(ConvOp::backward_data, route.value_or(conv_route<T>(ConvOp::backward_data, g)), g, dy.data(), w.data(),
           dx.data());
  return dx;
}

template <class T>
Tensor<T, Cpu> conv2d_backward_filter(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy, const ConvGeometry& g,
                                      std::optional<ConvRoute> route) {
  const std::string where = "conv2d_backward_filter";
  require_conv_operand(x, g.input_shape(), "input", g, where);
  require_conv_operand(dy, g.output_shape(), "gradient", g, where);
  Tensor<T, Cpu> dw(g.filter_shape(), uninitialized);
  convolve(ConvOp::backward_filter, route.value_or(conv_route<T>(ConvOp::backward_filter, g)), g, x.data(), dy.data(),
           dw.data());
  return dw;
}
}  // namespace detail

// y[n, o, oy, ox] = sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*stride - pad_top + ky, ox*stride - pad_left + kx],
// zero outside x. x: g.input_shape(), w: g.filter_shape(); y: g.output_shape().
template <class T>
Tensor<T, Cpu> conv2d_forward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& w, const ConvGeometry& g) {
  return detail::conv2d_forward(x, w, nullptr, g, std::nullopt);
}

// The same plus bias[c] (shape 1 x O x 1 x 1) on output channel c, added as the convolution
// writes its output (oneDNN's bias, or the GEMM's C on im2col) rather than in a pass of its own.
template <class T>
Tensor<T, Cpu> conv2d_forward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& w, const Tensor<T, Cpu>& bias,
                              const ConvGeometry& g) {
  return detail::conv2d_forward(x, w, &bias, g, std::nullopt);
}

// The adjoint of conv2d_forward in x: dx (g.input_shape()) from dy (g.output_shape()). It is also
// the forward pass of a transposed convolution.
template <class T>
Tensor<T, Cpu> conv2d_backward_data(const Tensor<T, Cpu>& dy, const Tensor<T, Cpu>& w, const ConvGeometry& g) {
  return detail::conv2d_backward_data(dy, w, g, std::nullopt);
}

// The adjoint of conv2d_forward in w: dw (g.filter_shape()) for one batch, not accumulated into
// an existing gradient (the caller adds it, so frozen layers pay nothing).
template <class T>
Tensor<T, Cpu> conv2d_backward_filter(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy, const ConvGeometry& g) {
  return detail::conv2d_backward_filter(x, dy, g, std::nullopt);
}

// y[n, c, :, :] += bias[c]; bias has shape 1 x C x 1 x 1.
template <class T>
void add_bias(Tensor<T, Cpu>& y, const Tensor<T, Cpu>& bias) {
  detail::require_bias(bias, y.c(), "add_bias");
  const std::size_t plane = y.shape().plane();
  const int planes = y.n() * y.c();
  PERCEPTUAL_PARALLEL_FOR_IF(y.size() >= detail::parallel_grain)
  for (int q = 0; q < planes; ++q) {
    T* p = y.data() + static_cast<std::size_t>(q) * plane;
    const T b = bias.data()[q % y.c()];
    for (std::size_t i = 0; i < plane; ++i) p[i] += b;
  }
}

// The bias gradient: dy summed over batch, height and width, shape 1 x C x 1 x 1.
template <class T>
Tensor<T, Cpu> bias_backward(const Tensor<T, Cpu>& dy) {
  Tensor<T, Cpu> db({1, dy.c(), 1, 1});
  const std::size_t plane = dy.shape().plane();
  PERCEPTUAL_PARALLEL_FOR_IF(dy.size() >= detail::parallel_grain)
  for (int c = 0; c < dy.c(); ++c) {
    double s = 0;  // a 512x512 plane summed in float loses digits
    for (int n = 0; n < dy.n(); ++n) {
      const T* p = dy.data() + (static_cast<std::size_t>(n) * dy.c() + c) * plane;
      PERCEPTUAL_SIMD_SUM(s)
      for (std::size_t i = 0; i < plane; ++i) s += p[i];
    }
    db.data()[c] = static_cast<T>(s);
  }
  return db;
}

namespace detail {

// Source index of padded position i for reflection padding (PyTorch ReflectionPad2d: the edge
// is not repeated, so pad p reads indices p, p-1, ..., 1 before index 0).
constexpr int reflect_index(int i, int size) {
  if (i < 0) return -i;
  if (i >= size) return 2 * (size - 1) - i;
  return i;
}

using checks::require_reflectable;

}  // namespace detail

// Reflection padding: N x C x (H + top + bottom) x (W + left + right).
template <class T>
Tensor<T, Cpu> reflect_pad(const Tensor<T, Cpu>& x, int top, int bottom, int left, int right) {
  detail::require_reflectable(x, top, bottom, left, right, "reflect_pad");
  const int h = x.h(), w = x.w(), ph = h + top + bottom, pw = w + left + right;
  Tensor<T, Cpu> y({x.n(), x.c(), ph, pw}, uninitialized);
  const int planes = x.n() * x.c();
  PERCEPTUAL_PARALLEL_FOR_IF(y.size() >= detail::parallel_grain)
  for (int p = 0; p < planes; ++p) {
    const T* src = x.data() + static_cast<std::size_t>(p) * h * w;
    T* dst = y.data() + static_cast<std::size_t>(p) * ph * pw;
    for (int i = 0; i < ph; ++i, dst += pw) {
      const T* row = src + detail::reflect_index(i - top, h) * w;
      for (int j = 0; j < left; ++j) dst[j] = row[left - j];
      std::copy(row, row + w, dst + left);
      for (int j = 0; j < right; ++j) dst[left + w + j] = row[w - 2 - j];
    }
  }
  return y;
}

// The adjoint of reflect_pad: each padded gradient entry is added onto the entry it copied.
template <class T>
Tensor<T, Cpu> reflect_pad_backward(const Tensor<T, Cpu>& dy, int top, int bottom, int left, int right) {
  const int h = dy.h() - top - bottom, w = dy.w() - left - right;
  if (h < 1 || w < 1)
    throw ShapeError("reflect_pad_backward: gradient " + to_string(dy.shape()) + " is smaller than its padding");
  Tensor<T, Cpu> dx({dy.n(), dy.c(), h, w});
  detail::require_reflectable(dx, top, bottom, left, right, "reflect_pad_backward");
  const int pw = dy.w();
  const T* src = dy.data();
  T* dst = dx.data();
  for (int p = 0, planes = dy.n() * dy.c(); p < planes; ++p, dst += h * w) {
    for (int i = 0; i < dy.h(); ++i, src += pw) {
      T* row = dst + detail::reflect_index(i - top, h) * w;
      for (int j = 0; j < left; ++j) row[left - j] += src[j];
      for (int j = 0; j < w; ++j) row[j] += src[left + j];
      for (int j = 0; j < right; ++j) row[w - 2 - j] += src[left + w + j];
    }
  }
  return dx;
}

}  // namespace perceptual::cpu
