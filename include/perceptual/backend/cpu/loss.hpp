#pragma once
// CPU kernels behind the losses (losses/*.hpp call them unqualified): Gram matrices through BLAS,
// squared distances with a broadcast batch, and squared total variation. Includes pointwise.hpp,
// whose scale() the style loss uses.
#include <cstddef>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/blas.hpp"
#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

namespace detail {

// b may hold one image for all of a's (a style target against a batch) or one per image.
template <class T>
void require_broadcastable(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, const std::string& where) {
  const Shape4 sa = a.shape(), sb = b.shape();
  if (sa.c != sb.c || sa.h != sb.h || sa.w != sb.w || (sb.n != sa.n && sb.n != 1))
    throw ShapeError(where + ": shapes " + to_string(sa) + " and " + to_string(sb) +
                     " differ (the second may have batch 1 or the first's batch)");
}

}  // namespace detail

// Per image, G = F F^T / (C*H*W) with F the C x (H*W) view of the features (Johnson eq. 3).
// Input N x C x H x W, output N x 1 x C x C.
template <class T>
Tensor<T, Cpu> gram_forward(const Tensor<T, Cpu>& f) {
  if (f.empty()) throw ShapeError("gram_forward: empty features " + to_string(f.shape()));
  const int c = f.c(), hw = f.h() * f.w();
  Tensor<T, Cpu> g({f.n(), 1, c, c});
  const T alpha = T(1) / static_cast<T>(static_cast<double>(c) * hw);
  for (int n = 0; n < f.n(); ++n) {
    const T* pf = f.data() + static_cast<std::size_t>(n) * c * hw;
    gemm(false, true, c, c, hw, alpha, pf, hw, pf, hw, T(0), g.data() + static_cast<std::size_t>(n) * c * c, c);
  }
  return g;
}

// dL/dF = (dL/dG + dL/dG^T) F / (C*H*W), per image; dg is N x 1 x C x C.
template <class T>
Tensor<T, Cpu> gram_backward(const Tensor<T, Cpu>& f, const Tensor<T, Cpu>& dg) {
  const Shape4 expected{f.n(), 1, f.c(), f.c()};
  if (dg.shape() != expected)
    throw ShapeError("gram_backward: gradient " + to_string(dg.shape()) + " for features " + to_string(f.shape()) +
                     ", expected " + to_string(expected));
  const int c = f.c(), hw = f.h() * f.w();
  Tensor<T, Cpu> df(f.shape());
  if (f.empty()) return df;
  const T alpha = T(1) / static_cast<T>(static_cast<double>(c) * hw);
  std::vector<T> sym(static_cast<std::size_t>(c) * c);
  for (int n = 0; n < f.n(); ++n) {
    const T* pg = dg.data() + static_cast<std::size_t>(n) * c * c;
    for (int i = 0; i < c; ++i)
      for (int j = 0; j < c; ++j) sym[i * c + j] = pg[i * c + j] + pg[j * c + i];
    const std::size_t off = static_cast<std::size_t>(n) * c * hw;
    gemm(false, false, c, hw, c, alpha, sym.data(), c, f.data() + off, hw, T(0), df.data() + off, hw);
  }
  return df;
}

// sum over all elements of (a - b)^2, b broadcast over a's batch when it has batch 1.
template <class T>
double squared_distance(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b) {
  detail::require_broadcastable(a, b, "squared_distance");
  const std::size_t per = a.shape().size() / (a.n() > 0 ? a.n() : 1);
  const T* pa = a.data();
  const T* pb = b.data();
  double s = 0;
  for (int n = 0; n < a.n(); ++n) {
    const T* qb = pb + (b.n() == 1 ? 0 : static_cast<std::size_t>(n) * per);
    for (std::size_t i = 0; i < per; ++i) {
      const double d = static_cast<double>(pa[n * per + i]) - qb[i];
      s += d * d;
    }
  }
  return s;
}

// alpha * (a - b), b broadcast as in squared_distance: the gradient of alpha/2 * squared_distance.
template <class T>
Tensor<T, Cpu> scaled_difference(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, T alpha) {
  detail::require_broadcastable(a, b, "scaled_difference");
  Tensor<T, Cpu> out(a.shape());
  const std::size_t per = a.shape().size() / (a.n() > 0 ? a.n() : 1);
  const T* pa = a.data();
  const T* pb = b.data();
  T* po = out.data();
  for (int n = 0; n < a.n(); ++n) {
    const T* qb = pb + (b.n() == 1 ? 0 : static_cast<std::size_t>(n) * per);
    for (std::size_t i = 0; i < per; ++i) po[n * per + i] = alpha * (pa[n * per + i] - qb[i]);
  }
  return out;
}

// Squared total variation with separate weights for the two directions:
//   sum_{n,c} wy * sum_{i<H-1, j} (x[i+1,j] - x[i,j])^2 + wx * sum_{i, j<W-1} (x[i,j+1] - x[i,j])^2.
template <class T>
double total_variation_forward(const Tensor<T, Cpu>& x, T wy, T wx) {
  const int h = x.h(), w = x.w();
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  double sy = 0, sx = 0;
  for (std::size_t p = 0; p < planes; ++p) {
    const T* px = x.data() + p * h * w;
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        const double v = px[i * w + j];
        if (i + 1 < h) sy += (px[(i + 1) * w + j] - v) * (px[(i + 1) * w + j] - v);
        if (j + 1 < w) sx += (px[i * w + j + 1] - v) * (px[i * w + j + 1] - v);
      }
  }
  return static_cast<double>(wy) * sy + static_cast<double>(wx) * sx;
}

// Gradient of total_variation_forward with respect to x.
template <class T>
Tensor<T, Cpu> total_variation_backward(const Tensor<T, Cpu>& x, T wy, T wx) {
  const int h = x.h(), w = x.w();
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  Tensor<T, Cpu> dx(x.shape());
  for (std::size_t p = 0; p < planes; ++p) {
    const T* px = x.data() + p * h * w;
    T* pd = dx.data() + p * h * w;
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        const T v = px[i * w + j];
        if (i + 1 < h) {
          const T d = T(2) * wy * (px[(i + 1) * w + j] - v);
          pd[(i + 1) * w + j] += d;
          pd[i * w + j] -= d;
        }
        if (j + 1 < w) {
          const T d = T(2) * wx * (px[i * w + j + 1] - v);
          pd[i * w + j + 1] += d;
          pd[i * w + j] -= d;
        }
      }
  }
  return dx;
}

}  // namespace perceptual::cpu
