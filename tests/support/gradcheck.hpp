#pragma once
// Finite-difference gradient check for any layer, in double precision on the CPU backend.
// The scalar loss is <forward(x), r> for a fixed random r, so backward(r) must return dL/dx
// and accumulate dL/dparam; both are compared with central differences on random entries.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>

#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/core/model.hpp"
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
    values[i] = saved + o.step;
    const double plus = loss();
    values[i] = saved - o.step;
    const double minus = loss();
    values[i] = saved;
    const double numeric = (plus - minus) / (2 * o.step);
    INFO(what << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric);
    CHECK(std::abs(analytic[i] - numeric) <= o.atol + o.rtol * std::abs(numeric));
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

  for (auto& p : model.parameters()) {
    if (!p.learnable()) continue;
    const std::vector<double> grad = p.grad->to_host();
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
