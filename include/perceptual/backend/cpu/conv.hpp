#pragma once
// Convolution on the CPU as im2col + GEMM, with its two adjoints (data and filter gradients),
// per-channel bias, and reflection padding. Padding is given as (top, left) plus the output size,
// so asymmetric padding (TensorFlow's SAME) needs no extra arguments: reads outside the input are
// zero. Transposed convolutions are built from the same three primitives by the layers.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cpu/blas.hpp"
#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

namespace detail {

// The im2col buffer is cut into bands of output rows no larger than this, so that a 9x9 conv on a
// megapixel image costs tens of megabytes rather than gigabytes.
inline constexpr std::size_t im2col_budget_bytes = std::size_t{64} << 20;

constexpr int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Output positions o in [lo, hi) whose input tap o*stride - pad + k lies inside [0, in).
struct TapRange {
  int lo, hi;
};
constexpr TapRange tap_range(int in, int out, int stride, int pad, int k) {
  const int lo = std::max(0, -floor_div(k - pad, stride));  // ceil((pad - k) / stride)
  const int hi = std::min(out, floor_div(in - 1 + pad - k, stride) + 1);
  return {lo, std::max(lo, hi)};
}

// Geometry of one convolution, checked once and shared by the three primitives.
struct ConvGeometry {
  int n, c, in_h, in_w, o, k, out_h, out_w, stride, pad_top, pad_left;

  int taps() const { return c * k * k; }  // rows of the im2col matrix
  bool is_pointwise() const {             // 1x1, stride 1, no padding: x is its own im2col matrix
    return k == 1 && stride == 1 && pad_top == 0 && pad_left == 0 && out_h == in_h && out_w == in_w;
  }
  template <class T>
  int band_rows() const {
    const std::size_t row_bytes = static_cast<std::size_t>(taps()) * static_cast<std::size_t>(out_w) * sizeof(T);
    return static_cast<int>(
        std::clamp<std::size_t>(im2col_budget_bytes / row_bytes, 1, static_cast<std::size_t>(out_h)));
  }
};

inline void check_geometry(const ConvGeometry& g, const std::string& where) {
  checks::conv_geometry(g.stride, g.pad_top, g.pad_left, g.k, g.in_h, g.in_w, g.out_h, g.out_w, where);
}

using checks::require_square_filter;

// Rows [r0, r1) of the im2col matrix of one image x (c, in_h, in_w): entry ((ci*k + ky)*k + kx,
// (oy - r0)*out_w + ox) = x(ci, oy*stride - pad_top + ky, ox*stride - pad_left + kx), or 0 outside.
// One thread: the copy is a few percent of the GEMM, and threads started here ran slower (by
// ~3% on 2 cores) while OpenBLAS's workers still spin after the previous GEMM.
template <class T>
void im2col(const T* x, const ConvGeometry& g, int r0, int r1, T* col) {
  const std::size_t cols = static_cast<std::size_t>(r1 - r0) * g.out_w;
  for (int ci = 0; ci < g.c; ++ci) {
    const T* plane = x + static_cast<std::size_t>(ci) * g.in_h * g.in_w;
    for (int ky = 0; ky < g.k; ++ky) {
      for (int kx = 0; kx < g.k; ++kx) {
        T* dst = col + static_cast<std::size_t>((ci * g.k + ky) * g.k + kx) * cols;
        const TapRange xs = tap_range(g.in_w, g.out_w, g.stride, g.pad_left, kx);
        const int shift = kx - g.pad_left;
        for (int oy = r0; oy < r1; ++oy, dst += g.out_w) {
          const int iy = oy * g.stride - g.pad_top + ky;
          if (iy < 0 || iy >= g.in_h) {
            std::fill(dst, dst + g.out_w, T(0));
            continue;
          }
          const T* row = plane + static_cast<std::size_t>(iy) * g.in_w;
          std::fill(dst, dst + xs.lo, T(0));
          if (g.stride == 1) {
            std::copy(row + xs.lo + shift, row + xs.hi + shift, dst + xs.lo);
          } else {
            for (int ox = xs.lo; ox < xs.hi; ++ox) dst[ox] = row[ox * g.stride + shift];
          }
          std::fill(dst + xs.hi, dst + g.out_w, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: adds each column entry back onto the input position it was read from.
template <class T>
void col2im_add(const T* col, const ConvGeometry& g, int r0, int r1, T* x) {
  const std::size_t cols = static_cast<std::size_t>(r1 - r0) * g.out_w;
  for (int ci = 0; ci < g.c; ++ci) {
    T* plane = x + static_cast<std::size_t>(ci) * g.in_h * g.in_w;
    for (int ky = 0; ky < g.k; ++ky) {
      for (int kx = 0; kx < g.k; ++kx) {
        const T* src = col + static_cast<std::size_t>((ci * g.k + ky) * g.k + kx) * cols;
        const TapRange xs = tap_range(g.in_w, g.out_w, g.stride, g.pad_left, kx);
        const int shift = kx - g.pad_left;
        for (int oy = r0; oy < r1; ++oy, src += g.out_w) {
          const int iy = oy * g.stride - g.pad_top + ky;
          if (iy < 0 || iy >= g.in_h) continue;
          T* row = plane + static_cast<std::size_t>(iy) * g.in_w;
          if (g.stride == 1) {  // contiguous: vectorises
            for (int ox = xs.lo; ox < xs.hi; ++ox) row[ox + shift] += src[ox];
          } else {
            for (int ox = xs.lo; ox < xs.hi; ++ox) row[ox * g.stride + shift] += src[ox];
          }
        }
      }
    }
  }
}

// An uninitialised scratch buffer for one band of the im2col matrix.
template <class T>
PoolArray<T> band_buffer(const ConvGeometry& g) {
  return make_pool_array<T>(static_cast<std::size_t>(g.taps()) * g.band_rows<T>() * g.out_w);
}

}  // namespace detail

// y[n, o, oy, ox] = sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*stride - pad_top + ky, ox*stride - pad_left + kx],
// zero outside x. x: N x C x H x W, w: O x C x K x K; y: N x O x out_h x out_w.
template <class T>
Tensor<T, Cpu> conv2d_forward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& w, int stride, int pad_top, int pad_left,
                              int out_h, int out_w) {
  const std::string where = "conv2d_forward";
  detail::require_square_filter(w, where);
  if (x.c() != w.c())
    throw ShapeError(where + ": input " + to_string(x.shape()) + " has " + std::to_string(x.c()) +
                     " channels, weight " + to_string(w.shape()) + " expects " + std::to_string(w.c()));
  const detail::ConvGeometry g{x.n(), x.c(), x.h(), x.w(), w.n(), w.h(), out_h, out_w, stride, pad_top, pad_left};
  detail::check_geometry(g, where);

  Tensor<T, Cpu> y({g.n, g.o, out_h, out_w});
  const std::size_t in_plane = static_cast<std::size_t>(g.c) * g.in_h * g.in_w;
  const int out_plane = out_h * out_w;
  if (g.is_pointwise()) {
    for (int n = 0; n < g.n; ++n)
      gemm(false, false, g.o, out_plane, g.c, T(1), w.data(), g.c, x.data() + n * in_plane, out_plane, T(0),
           y.data() + static_cast<std::size_t>(n) * g.o * out_plane, out_plane);
    return y;
  }
  const int band = g.band_rows<T>();
  auto col = detail::band_buffer<T>(g);
  for (int n = 0; n < g.n; ++n) {
    T* yn = y.data() + static_cast<std::size_t>(n) * g.o * out_plane;
    for (int r0 = 0; r0 < out_h; r0 += band) {
      const int r1 = std::min(out_h, r0 + band);
      const int cols = (r1 - r0) * out_w;
      detail::im2col(x.data() + n * in_plane, g, r0, r1, col.get());
      // One band of output rows per channel: ldc = out_plane writes it in place.
      gemm(false, false, g.o, cols, g.taps(), T(1), w.data(), g.taps(), col.get(), cols, T(0), yn + r0 * out_w,
           out_plane);
    }
  }
  return y;
}

// The adjoint of conv2d_forward in x: dx (N x C x in_h x in_w) from dy (N x O x out_h x out_w).
// It is also the forward pass of a transposed convolution.
template <class T>
Tensor<T, Cpu> conv2d_backward_data(const Tensor<T, Cpu>& dy, const Tensor<T, Cpu>& w, int stride, int pad_top,
                                    int pad_left, int in_h, int in_w) {
  const std::string where = "conv2d_backward_data";
  detail::require_square_filter(w, where);
  if (dy.c() != w.n())
    throw ShapeError(where + ": gradient " + to_string(dy.shape()) + " has " + std::to_string(dy.c()) +
                     " channels, weight " + to_string(w.shape()) + " has " + std::to_string(w.n()) + " outputs");
  const detail::ConvGeometry g{dy.n(), w.c(), in_h, in_w, w.n(), w.h(), dy.h(), dy.w(), stride, pad_top, pad_left};
  detail::check_geometry(g, where);

  Tensor<T, Cpu> dx({g.n, g.c, in_h, in_w});
  const std::size_t in_plane = static_cast<std::size_t>(g.c) * in_h * in_w;
  const int out_plane = g.out_h * g.out_w;
  if (g.is_pointwise()) {
    for (int n = 0; n < g.n; ++n)
      gemm(true, false, g.c, out_plane, g.o, T(1), w.data(), g.c,
           dy.data() + static_cast<std::size_t>(n) * g.o * out_plane, out_plane, T(0), dx.data() + n * in_plane,
           out_plane);
    return dx;
  }
  const int band = g.band_rows<T>();
  auto col = detail::band_buffer<T>(g);
  for (int n = 0; n < g.n; ++n) {
    const T* dyn = dy.data() + static_cast<std::size_t>(n) * g.o * out_plane;
    for (int r0 = 0; r0 < g.out_h; r0 += band) {
      const int r1 = std::min(g.out_h, r0 + band);
      const int cols = (r1 - r0) * g.out_w;
      gemm(true, false, g.taps(), cols, g.o, T(1), w.data(), g.taps(), dyn + r0 * g.out_w, out_plane, T(0), col.get(),
           cols);
      detail::col2im_add(col.get(), g, r0, r1, dx.data() + n * in_plane);
    }
  }
  return dx;
}

// The adjoint of conv2d_forward in w: dw (O x C x k x k) for one batch, not accumulated into an
// existing gradient (the caller adds it, so frozen layers pay nothing).
template <class T>
Tensor<T, Cpu> conv2d_backward_filter(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy, int stride, int pad_top,
                                      int pad_left, int k) {
  const std::string where = "conv2d_backward_filter";
  if (x.n() != dy.n())
    throw ShapeError(where + ": input " + to_string(x.shape()) + " and gradient " + to_string(dy.shape()) +
                     " differ in batch size");
  const detail::ConvGeometry g{x.n(), x.c(), x.h(), x.w(), dy.c(), k, dy.h(), dy.w(), stride, pad_top, pad_left};
  detail::check_geometry(g, where);

  Tensor<T, Cpu> dw({g.o, g.c, k, k});
  const std::size_t in_plane = static_cast<std::size_t>(g.c) * g.in_h * g.in_w;
  const int out_plane = g.out_h * g.out_w;
  if (g.is_pointwise()) {
    for (int n = 0; n < g.n; ++n)
      gemm(false, true, g.o, g.c, out_plane, T(1), dy.data() + static_cast<std::size_t>(n) * g.o * out_plane, out_plane,
           x.data() + n * in_plane, out_plane, n == 0 ? T(0) : T(1), dw.data(), g.c);
    return dw;
  }
  const int band = g.band_rows<T>();
  auto col = detail::band_buffer<T>(g);
  bool first = true;
  for (int n = 0; n < g.n; ++n) {
    const T* dyn = dy.data() + static_cast<std::size_t>(n) * g.o * out_plane;
    for (int r0 = 0; r0 < g.out_h; r0 += band) {
      const int r1 = std::min(g.out_h, r0 + band);
      const int cols = (r1 - r0) * g.out_w;
      detail::im2col(x.data() + n * in_plane, g, r0, r1, col.get());
      gemm(false, true, g.o, g.taps(), cols, T(1), dyn + r0 * g.out_w, out_plane, col.get(), cols, first ? T(0) : T(1),
           dw.data(), g.taps());
      first = false;
    }
  }
  return dw;
}

// y[n, c, :, :] += bias[c]; bias has shape 1 x C x 1 x 1.
template <class T>
void add_bias(Tensor<T, Cpu>& y, const Tensor<T, Cpu>& bias) {
  if (bias.shape() != Shape4{1, y.c(), 1, 1})
    throw ShapeError("add_bias: bias " + to_string(bias.shape()) + " for output " + to_string(y.shape()) +
                     ", expected 1x" + std::to_string(y.c()) + "x1x1");
  const std::size_t plane = y.shape().plane();
  T* p = y.data();
  for (int n = 0; n < y.n(); ++n)
    for (int c = 0; c < y.c(); ++c, p += plane) {
      const T b = bias.data()[c];
      for (std::size_t i = 0; i < plane; ++i) p[i] += b;
    }
}

// The bias gradient: dy summed over batch, height and width, shape 1 x C x 1 x 1.
template <class T>
Tensor<T, Cpu> bias_backward(const Tensor<T, Cpu>& dy) {
  Tensor<T, Cpu> db({1, dy.c(), 1, 1});
  const std::size_t plane = dy.shape().plane();
  for (int c = 0; c < dy.c(); ++c) {
    double s = 0;  // a 512x512 plane summed in float loses digits
    for (int n = 0; n < dy.n(); ++n) {
      const T* p = dy.data() + (static_cast<std::size_t>(n) * dy.c() + c) * plane;
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
  Tensor<T, Cpu> y({x.n(), x.c(), ph, pw});
  const T* src = x.data();
  T* dst = y.data();
  for (int p = 0, planes = x.n() * x.c(); p < planes; ++p, src += h * w) {
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
