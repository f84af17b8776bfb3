#pragma once
// Finite-difference check of the gradient of any scalar function of one tensor (a loss), in
// double precision on the CPU backend; layers use check_gradients from gradcheck.hpp instead.
#include <doctest/doctest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"

namespace perceptual::testing {

// Compares `grad` (the analytic d value / dx at x) with central differences of `value` at random
// entries of x (up to o.max_entries).
inline void check_scalar_gradient(const std::string& what, const Tensor<double, Cpu>& x,
                                  const std::function<double(const Tensor<double, Cpu>&)>& value,
                                  const Tensor<double, Cpu>& grad, std::mt19937_64& rng,
                                  const GradcheckOptions& o = {}) {
  REQUIRE(grad.shape() == x.shape());
  std::vector<double> v = x.to_host();
  auto loss = [&] { return value(Tensor<double, Cpu>::from_host(x.shape(), v)); };
  compare_entries(what, v, grad.to_host(), loss, rng, o);
}

}  // namespace perceptual::testing
