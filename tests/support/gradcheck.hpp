#pragma once
// Finite-difference gradient check for any layer, in double precision on the CPU backend.
// The scalar loss is <forward(x), r> for a fixed random r, so backward(r) must return dL/dx
// and accumulate dL/dparam; both are compared with central differences on random entries, except
// where the exact derivative is known to be 0 (see norm_fed.hpp): there the finite difference is
// rounding noise, and the analytic gradient is held to 0 instead.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <string>

#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/core/model.hpp"
#include "support/norm_fed.hpp"
#include "support/random.hpp"

namespace perceptual::testing {

struct GradcheckOptions {
  double step = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  int max_entries = 48;    // per tensor: checked entries, chosen at random
  bool train_mode = true;  // eval() before checking when false
  double input_lo = -1, input_hi = 1;
  double param_lo = -1, param_hi = 1;
  // Largest |analytic| allowed for a gradient that is exactly 0 (a bias that feeds a norm in
  // training mode): what is left is the rounding of sums of O(1) terms in double (seen up to 3e-13
  // on the miniature transform net), far below any real error.
  double zero_atol = 1e-10;
};

// Compares analytic and numeric derivatives of `loss` with respect to `values` at random entries.
inline void compare_entries(const std::string& what, std::vector<double>& values, const std::vector<double>& analytic,
                            const std::function<double()>& loss, std::mt19937_64& rng, const GradcheckOptions& o) {
  std::vector<std::size_t> idx(values.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(std::min<std::size_t>(idx.size(), static_cast<std::size_t>(o.max_entries)));
  for (std::size_t i : idx) {
    const double saved = values[i];
    const auto at = [&](double offset) {
      values[i] = saved + offset;
      const double l = loss();
      values[i] = saved;
      return l;
    };
    const double h = o.step, l0 = at(0), plus = at(h), minus = at(-h);
    const double numeric = (plus - minus) / (2 * h);
    // The truncation error of steps h and 2h (O(h^2)) is far below atol, so what separates them is
    // the rounding of the loss (large when the outputs are, as a scaled tanh's): allowed on top.
    const double rounding = std::abs(numeric - (at(2 * h) - at(-2 * h)) / (4 * h));
    const auto close = [&](double fd) {
      return std::abs(analytic[i] - fd) <= o.atol + o.rtol * std::abs(fd) + 2 * rounding;
    };
    // Where a kink (a ReLU input or a max-pool tie within h of switching) lies between x - h and
    // x + h, the central difference mixes two slopes, and the analytic gradient, the slope on x's
    // side, is one of the one-sided differences: accepted, as that is what backward must give.
    const double forward = (plus - l0) / h, backward = (l0 - minus) / h;
    INFO(what << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric << " (rounding " << rounding
              << "; one-sided " << backward << ", " << forward << ")");
    CHECK((close(numeric) || close(forward) || close(backward)));
  }
}

template <class Net>
void check_gradients(Shape4 input_shape, const GradcheckOptions& o = {}) {
  using Tensor = Tensor<double, Cpu>;
  const auto seed = test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  INFO("layer " << Net::name() << ", input " << to_string(input_shape));
  std::mt19937_64 rng(seed);

  Model<Net, Cpu, double> model;
  if (!o.train_mode) model.eval();
  for (auto& p : model.parameters())
    if (p.learnable()) randomize(*p.value, rng, o.param_lo, o.param_hi);

  std::vector<double> x = random_tensor<double>(input_shape, rng, o.input_lo, o.input_hi).to_host();
  const Tensor y0 = model.forward(Tensor::from_host(input_shape, x));
  REQUIRE(y0.shape().spatial() == Net::output_size(input_shape.spatial()));
  if (Net::out_channels != any_channels) REQUIRE(y0.c() == Net::out_channels);
  const Tensor r = random_tensor<double>(y0.shape(), rng);

  model.zero_grad();
  model.forward(Tensor::from_host(input_shape, x));
  const std::vector<double> dx = model.backward(r).to_host();

  auto loss = [&] { return dot(model.forward(Tensor::from_host(input_shape, x)), r); };
  compare_entries("dL/dx", x, dx, loss, rng, o);

  auto parameters = model.parameters();
  std::set<std::string> names;
  for (const auto& p : parameters) names.insert(p.name);
  for (auto& p : parameters) {
    if (!p.learnable()) continue;
    const std::vector<double> grad = p.grad->to_host();
    // A norm in training mode subtracts each channel's mean, and with it the bias before it. (In eval
    // mode batch norm uses its running mean and the bias counts: compared as any other parameter.)
    if (o.train_mode && feeds_norm(p.name, [&](const std::string& n) { return names.contains(n); })) {
      for (std::size_t i = 0; i < grad.size(); ++i) {
        INFO("dL/d" << p.name << "[" << i << "]: analytic " << grad[i] << ", exactly 0 (the bias feeds a norm)");
        CHECK(std::abs(grad[i]) <= o.zero_atol);
      }
      continue;
    }
    std::vector<double> values = p.value->to_host();
    const Shape4 shape = p.value->shape();
    auto param_loss = [&] {
      *p.value = Tensor::from_host(shape, values);
      return loss();
    };
    compare_entries("dL/d" + p.name, values, grad, param_loss, rng, o);
    *p.value = Tensor::from_host(shape, values);
  }
}

}  // namespace perceptual::testing
