#pragma once
// CPU kernels behind the optimisers (optim/*.hpp call them unqualified): the fused Adam update,
// box projection for bounded L-BFGS, and the norms their stopping tests use.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

// One Adam step (Kingma & Ba, algorithm 1, in PyTorch's form) for the step-th update (from 1):
//   m = beta1 m + (1-beta1) g;  v = beta2 v + (1-beta2) g^2;
//   param -= lr * (m / (1-beta1^step)) / (sqrt(v / (1-beta2^step)) + eps).
// The scalars are double so that the bias corrections stay exact for float tensors.
template <class T>
void adam_update(Tensor<T, Cpu>& param, const Tensor<T, Cpu>& grad, Tensor<T, Cpu>& m, Tensor<T, Cpu>& v, double lr,
                 double beta1, double beta2, double eps, std::int64_t step) {
  require_same_shape(param, grad, "adam_update (parameter, gradient)");
  require_same_shape(param, m, "adam_update (parameter, first moment)");
  require_same_shape(param, v, "adam_update (parameter, second moment)");
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(step));
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T step_size = static_cast<T>(lr / bc1), inv_sqrt_bc2 = static_cast<T>(1 / std::sqrt(bc2));
  const T e = static_cast<T>(eps);
  T* p = param.data();
  T* pm = m.data();
  T* pv = v.data();
  const T* pg = grad.data();
  for (std::size_t i = 0, n = param.size(); i < n; ++i) {
    pm[i] = b1 * pm[i] + (T(1) - b1) * pg[i];
    pv[i] = b2 * pv[i] + (T(1) - b2) * pg[i] * pg[i];
    p[i] -= step_size * pm[i] / (std::sqrt(pv[i]) * inv_sqrt_bc2 + e);
  }
}

// x = clamp(x, lo, hi) element-wise; infinite bounds leave x as it is.
template <class T>
void box_project(Tensor<T, Cpu>& x, T lo, T hi) {
  T* p = x.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) p[i] = std::clamp(p[i], lo, hi);
}

// mask = 1 on the free variables, 0 on the binding set (x at a bound with the gradient g pushing
// outward); returns the size of the binding set.
template <class T>
std::size_t box_free_mask(Tensor<T, Cpu>& mask, const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& g, T lo, T hi) {
  require_same_shape(x, g, "box_free_mask (point, gradient)");
  if (mask.shape() != x.shape()) mask = Tensor<T, Cpu>(x.shape());
  T* pm = mask.data();
  const T* px = x.data();
  const T* pg = g.data();
  std::size_t binding = 0;
  for (std::size_t i = 0, n = x.size(); i < n; ++i) {
    const bool bound = (px[i] <= lo && pg[i] > 0) || (px[i] >= hi && pg[i] < 0);
    pm[i] = bound ? T(0) : T(1);
    binding += bound;
  }
  return binding;
}

// x *= mask element-wise (mask of 0s and 1s from box_free_mask).
template <class T>
void apply_mask(Tensor<T, Cpu>& x, const Tensor<T, Cpu>& mask) {
  require_same_shape(x, mask, "apply_mask");
  T* px = x.data();
  const T* pm = mask.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) px[i] *= pm[i];
}

// Zeroes the components of a search direction d that cannot move x inside [lo, hi]: those of the
// binding set (x at a bound with the gradient g pushing outward: the two-metric projection's
// rule, which keeps the projected path a descent path) and those where d itself points outward.
template <class T>
void box_mask_direction(Tensor<T, Cpu>& d, const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& g, T lo, T hi) {
  require_same_shape(d, x, "box_mask_direction (direction, point)");
  require_same_shape(x, g, "box_mask_direction (point, gradient)");
  T* pd = d.data();
  const T* px = x.data();
  const T* pg = g.data();
  for (std::size_t i = 0, n = d.size(); i < n; ++i) {
    const bool at_lo = px[i] <= lo && (pg[i] > 0 || pd[i] < 0);
    const bool at_hi = px[i] >= hi && (pg[i] < 0 || pd[i] > 0);
    if (at_lo || at_hi) pd[i] = T(0);
  }
}

// max_i |clamp(x_i - g_i, lo, hi) - x_i|: the projected gradient's infinity norm, zero exactly at
// a first-order (KKT) point of the box-constrained problem; max |g_i| without bounds.
template <class T>
double box_projected_gradient_max(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& g, T lo, T hi) {
  require_same_shape(x, g, "box_projected_gradient_max");
  const T* px = x.data();
  const T* pg = g.data();
  double m = 0;
  for (std::size_t i = 0, n = x.size(); i < n; ++i) {
    // Inside the box use |g| itself: (x - g) - x loses g's low digits when |x| >> |g|.
    const T t = px[i] - pg[i];
    const double r = (t > lo && t < hi) ? std::abs(static_cast<double>(pg[i]))
                                        : std::abs(static_cast<double>(std::clamp(t, lo, hi)) - px[i]);
    m = std::max(m, r);
  }
  return m;
}

// max_i |x_i| (0 for an empty tensor).
template <class T>
double max_abs(const Tensor<T, Cpu>& x) {
  const T* p = x.data();
  double m = 0;
  for (std::size_t i = 0, n = x.size(); i < n; ++i) m = std::max(m, std::abs(static_cast<double>(p[i])));
  return m;
}

// sum_i |x_i|, accumulated in double.
template <class T>
double abs_sum(const Tensor<T, Cpu>& x) {
  const T* p = x.data();
  double s = 0;
  for (std::size_t i = 0, n = x.size(); i < n; ++i) s += std::abs(static_cast<double>(p[i]));
  return s;
}

}  // namespace perceptual::cpu
