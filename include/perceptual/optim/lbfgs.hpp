#pragma once
// L-BFGS with optional box bounds, the optimiser of Gatys et al.'s per-image style transfer (and
// Johnson et al.'s optimisation baseline, which keeps pixels in [0, 255]). Backend-generic: vector
// operations are the backend's (dot, axpy, scale, box_project, ...), found by ADL.
#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::optim {

struct LbfgsOptions {
  int max_iterations = 100;
  int history = 10;  // curvature pairs kept (m)
  // Stop when max_i |projected gradient_i| <= grad_tolerance (max |g_i| without bounds), when
  // max_i |x_{k+1,i} - x_{k,i}| <= step_tolerance (torch's defaults, 1e-7 and 1e-9), or when
  // |f_k - f_{k+1}| <= value_tolerance * max(|f_k|, |f_{k+1}|, 1) (scipy's ftol; the default 0
  // stops only once f stops changing).
  double grad_tolerance = 1e-7;
  double step_tolerance = 1e-9;
  double value_tolerance = 0;
  // The box [lower, upper], the same for every element; infinite by default (no bounds).
  double lower = -std::numeric_limits<double>::infinity();
  double upper = std::numeric_limits<double>::infinity();
  double armijo = 1e-4;      // sufficient-decrease constant c1
  int max_line_search = 25;  // function evaluations per line search
  // A pair with s.y <= curvature_eps * y.y is skipped (keeps H positive definite). Relative, as in
  // L-BFGS-B: an absolute floor (torch's 1e-10) rejects every pair once steps are small and
  // leaves a stale H, which turns convergence linear.
  double curvature_eps = 2.2e-16;
  // Called with (0, f(x_0)) and then after each iteration k with (k, f(x_k)); x (the caller's
  // tensor) holds x_k at that moment.
  std::function<void(int iteration, double value)> callback = {};
};

enum class LbfgsStop { max_iterations, gradient, step, value, line_search };

inline std::string to_string(LbfgsStop s) {
  switch (s) {
    case LbfgsStop::max_iterations:
      return "maximum iterations";
    case LbfgsStop::gradient:
      return "gradient tolerance";
    case LbfgsStop::step:
      return "step tolerance";
    case LbfgsStop::value:
      return "value tolerance";
    case LbfgsStop::line_search:
      return "line search failed";
  }
  return "?";
}

struct LbfgsResult {
  double value = 0;         // f at the returned x
  double gradient_max = 0;  // max |projected gradient| there (as grad_tolerance measures it)
  int iterations = 0;       // accepted steps
  int evaluations = 0;      // calls of f_and_grad
  LbfgsStop stop = LbfgsStop::max_iterations;
};

// Minimises f over the box [lower, upper]^n, starting from x (first projected onto the box) and
// leaving the best point found in x. f_and_grad(const Tensor& x, Tensor& grad) returns f(x) and
// writes df/dx into grad (x's shape); it is only ever called at points inside the box.
//
// Method: the two-loop recursion (Nocedal & Wright, alg. 7.4) with H_0 = (s.y / y.y) I from the
// newest pair, then a backtracking Armijo search along the projected path x(t) = P(x + t d):
// accept when f(x(t)) <= f(x) + c1 g.(x(t) - x), else shrink t by safeguarded quadratic
// interpolation (to [0.1 t, 0.5 t]). t starts at 1, except without curvature information (the
// first iteration, or after a reset), where t = min(1, 1/|d|_1) as in torch.optim.LBFGS.
// Bounds use the two-metric projection (Bertsekas 1982): the binding set (variables at a bound
// whose gradient pushes outward) is held fixed, and the direction is the L-BFGS step of the free
// variables, with the pairs restricted to them; so the projected path starts downhill. Pairs with
// s.y <= curvature_eps y.y are skipped. If the direction is not downhill or the search fails, the
// history is dropped and the step retried along the projected steepest descent; failing that,
// minimize stops (line_search). Without bounds this is plain L-BFGS with a backtracking (not
// Wolfe) line search.
template <class T, class B, class F>
LbfgsResult minimize(Tensor<T, B>& x, F&& f_and_grad, const LbfgsOptions& options = {}) {
  using Vec = Tensor<T, B>;
  const LbfgsOptions& o = options;
  if (o.max_iterations < 0 || o.history < 1 || o.max_line_search < 1 || !(o.lower <= o.upper) ||
      !(o.armijo > 0 && o.armijo < 1))
    throw ArgumentError("minimize (L-BFGS): max_iterations " + std::to_string(o.max_iterations) + ", history " +
                        std::to_string(o.history) + ", max_line_search " + std::to_string(o.max_line_search) +
                        ", box [" + std::to_string(o.lower) + ", " + std::to_string(o.upper) + "], armijo " +
                        std::to_string(o.armijo) + "; expected >= 0, >= 1, >= 1, lower <= upper, 0 < armijo < 1");
  const T lo = static_cast<T>(o.lower), hi = static_cast<T>(o.upper);

  LbfgsResult result;
  auto evaluate = [&](const Vec& at, Vec& grad) {
    const double f = f_and_grad(at, grad);
    ++result.evaluations;
    if (grad.shape() != at.shape())
      throw ShapeError("minimize (L-BFGS): f_and_grad gave a gradient " + to_string(grad.shape()) + " for x " +
                       to_string(at.shape()));
    return f;
  };

  box_project(x, lo, hi);
  Vec g(x.shape());
  double f = evaluate(x, g);
  if (!std::isfinite(f)) throw Error("minimize (L-BFGS): f is not finite at the starting point");
  if (o.callback) o.callback(0, f);

  std::deque<Vec> s_hist, y_hist;
  std::deque<double> rho;
  double gamma = 1;
  std::vector<double> alpha;
  Vec d, x_new, g_new(x.shape()), s, y;

  // d = -H g_F on the free variables F (all but the binding set). With a binding set the pairs
  // are restricted to F too, (s_F, y_F): then H approximates the inverse of the reduced Hessian
  // (not the reduced inverse Hessian, which misjudges coupled variables), as L-BFGS-B's subspace
  // step does; a pair whose restricted s_F.y_F fails the curvature test is left out this time.
  // Returns g.d and sets `scaled` when some pair was used.
  Vec mask;
  std::vector<Vec> y_free;
  std::vector<double> rho_free;
  bool scaled = false;
  auto direction = [&] {
    const bool restricted = box_free_mask(mask, x, g, lo, hi) > 0;
    const std::size_t m = s_hist.size();
    double gamma_free = gamma;
    rho_free.assign(m, 0);
    y_free.resize(m);
    scaled = false;
    for (std::size_t i = 0; i < m; ++i) {
      if (!restricted) {
        rho_free[i] = rho[i];
        continue;
      }
      y_free[i] = y_hist[i];
      apply_mask(y_free[i], mask);
      const double sy = dot(s_hist[i], y_free[i]), yy = dot(y_free[i], y_free[i]);
      if (sy > o.curvature_eps * yy) {
        rho_free[i] = 1 / sy;
        gamma_free = sy / yy;  // the newest valid pair's, as without bounds
      }
    }
    auto y_of = [&](std::size_t i) -> const Vec& { return restricted ? y_free[i] : y_hist[i]; };

    d = g;
    scale(d, T(-1));
    apply_mask(d, mask);
    alpha.assign(m, 0);
    for (std::size_t i = m; i-- > 0;) {
      if (rho_free[i] == 0) continue;
      alpha[i] = rho_free[i] * dot(s_hist[i], d);
      axpy(d, static_cast<T>(-alpha[i]), y_of(i));
      scaled = true;
    }
    if (scaled) scale(d, static_cast<T>(gamma_free));
    for (std::size_t i = 0; i < m; ++i) {
      if (rho_free[i] == 0) continue;
      const double beta = rho_free[i] * dot(y_of(i), d);
      axpy(d, static_cast<T>(alpha[i] - beta), s_hist[i]);
    }
    box_mask_direction(d, x, g, lo, hi);  // the binding set again, and outward moves at a bound
    return dot(g, d);
  };
  auto reset = [&] {
    s_hist.clear();
    y_hist.clear();
    rho.clear();
    gamma = 1;
  };
  // Backtracking Armijo along P(x + t d); on success x_new, g_new, s = x_new - x hold the step.
  auto line_search = [&](double gd, double& f_new) {
    double t = scaled ? 1.0 : std::min(1.0, 1.0 / abs_sum(d));
    for (int e = 0; e < o.max_line_search; ++e) {
      x_new = x;
      axpy(x_new, static_cast<T>(t), d);
      box_project(x_new, lo, hi);
      f_new = evaluate(x_new, g_new);
      s = x_new;
      axpy(s, T(-1), x);
      if (std::isfinite(f_new) && f_new <= f + o.armijo * dot(g, s)) return true;
      const double denom = 2 * (f_new - f - gd * t);
      const double t_quad = std::isfinite(f_new) && denom > 0 ? -gd * t * t / denom : 0.1 * t;
      t = std::clamp(t_quad, 0.1 * t, 0.5 * t);
    }
    return false;
  };

  result.stop = LbfgsStop::max_iterations;
  for (int k = 1; k <= o.max_iterations; ++k) {
    if (box_projected_gradient_max(x, g, lo, hi) <= o.grad_tolerance) {
      result.stop = LbfgsStop::gradient;
      break;
    }
    double f_new = f;
    bool accepted = false;
    for (int attempt = 0; attempt < 2 && !accepted; ++attempt) {
      if (attempt == 1) {
        if (!scaled) break;  // steepest descent already failed
        reset();
      }
      const double gd = direction();
      if (!(gd < 0)) continue;  // not downhill (or NaN): retry without history
      accepted = line_search(gd, f_new);
    }
    if (!accepted) {
      result.stop = LbfgsStop::line_search;
      break;
    }

    y = g_new;
    axpy(y, T(-1), g);
    const double sy = dot(s, y), yy = dot(y, y);
    const double step_max = max_abs(s);
    const double f_prev = f, f_change = std::abs(f - f_new);
    std::swap(x, x_new);
    std::swap(g, g_new);
    f = f_new;
    if (sy > o.curvature_eps * yy) {
      if (static_cast<int>(s_hist.size()) == o.history) {
        s_hist.pop_front();
        y_hist.pop_front();
        rho.pop_front();
      }
      gamma = sy / yy;
      s_hist.push_back(s);
      y_hist.push_back(y);
      rho.push_back(1 / sy);
    }
    result.iterations = k;
    if (o.callback) o.callback(k, f);
    if (step_max <= o.step_tolerance) {
      result.stop = LbfgsStop::step;
      break;
    }
    if (f_change <= o.value_tolerance * std::max({std::abs(f), std::abs(f_prev), 1.0})) {
      result.stop = LbfgsStop::value;
      break;
    }
  }
  result.value = f;
  result.gradient_max = box_projected_gradient_max(x, g, lo, hi);
  // The last step may have converged too: report that rather than the iteration limit.
  if (result.stop == LbfgsStop::max_iterations && result.gradient_max <= o.grad_tolerance)
    result.stop = LbfgsStop::gradient;
  return result;
}

}  // namespace perceptual::optim
