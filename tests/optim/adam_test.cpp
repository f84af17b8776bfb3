#include "perceptual/optim/adam.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

#include "perceptual/backend/cpu/optim.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::optim;
using T = Tensor<double, Cpu>;

namespace {

T vec(std::vector<double> v) {
  const int n = static_cast<int>(v.size());
  return T::from_host({1, 1, 1, n}, v);
}

// f = sum_i a_i (x_i - c_i)^2, gradient written into g.
double quadratic(const T& x, T& g, const std::vector<double>& a, const std::vector<double>& c) {
  const auto v = x.to_host();
  std::vector<double> grad(v.size());
  double f = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    f += a[i] * (v[i] - c[i]) * (v[i] - c[i]);
    grad[i] = 2 * a[i] * (v[i] - c[i]);
  }
  g = T::from_host(x.shape(), grad);
  return f;
}

// The 2-D Rosenbrock function (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1).
double rosenbrock(const T& x, T& g) {
  const auto v = x.to_host();
  const double a = v[0], b = v[1];
  g = T::from_host(x.shape(), std::vector<double>{-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)});
  return (1 - a) * (1 - a) + 100 * (b - a * a) * (b - a * a);
}

}  // namespace

// Built-in floating types keep their moments in their own type (the CPU's float and double
// behave as before); bf16's are float (tests/cuda/optim_test.cpp checks why).
static_assert(std::is_same_v<moment_t<double>, double>);
static_assert(std::is_same_v<moment_t<float>, float>);
static_assert(std::is_same_v<moment_t<bf16>, float>);
static_assert(std::is_same_v<decltype(Adam<float, Cpu>::State::v), Tensor<float, Cpu>>);

TEST_CASE("Adam's first two steps move each parameter by lr times the gradient's sign") {
  T x = vec({1, -2, 3}), gx = vec({0.5, -4, 0});
  Adam<double, Cpu> adam({{"x", &x, &gx}}, {.lr = 0.1});
  adam.step();
  // m = 0.1 g, v = 0.001 g^2; bias-corrected m / sqrt(v) = sign(g) (up to eps); g = 0 stays put.
  auto v = x.to_host();
  CHECK(v[0] == doctest::Approx(0.9));
  CHECK(v[1] == doctest::Approx(-1.9));
  CHECK(v[2] == 3.0);
  CHECK(adam.step_count() == 1);
  CHECK(adam.state()[0].m.to_host()[1] == doctest::Approx(-0.4));
  CHECK(adam.state()[0].v.to_host()[1] == doctest::Approx(0.016));
  adam.step();  // with the same gradient the corrected moments are again g and g^2
  v = x.to_host();
  CHECK(v[0] == doctest::Approx(0.8));
  CHECK(v[1] == doctest::Approx(-1.8));
}

TEST_CASE("Adam skips parameters without a gradient and names its state after the parameters") {
  T w = vec({1, 1}), gw = vec({1, 1}), running = vec({5, 5});
  Adam<double, Cpu> adam({{"w", &w, &gw}, {"running_mean", &running, nullptr}});
  adam.step();
  CHECK(running.to_host() == std::vector<double>{5, 5});
  CHECK(w.to_host()[0] == doctest::Approx(1 - 1e-3));
  REQUIRE(adam.state().size() == 1);
  const auto state = adam.state_tensors();
  REQUIRE(state.size() == 2);
  CHECK(state[0].name == "w.exp_avg");
  CHECK(state[1].name == "w.exp_avg_sq");
  CHECK(!state[0].learnable());
  adam.zero_grad();
  CHECK(gw.to_host() == std::vector<double>{0, 0});
}

TEST_CASE("Adam resumed from saved state continues exactly as without the interruption") {
  const std::vector<double> a{1, 3, 0.5}, c{2, -1, 4};
  T x1 = vec({0, 0, 0}), g1 = vec({0, 0, 0}), x2 = x1, g2 = g1;
  Adam<double, Cpu> straight({{"x", &x1, &g1}}, {.lr = 0.05});
  for (int k = 0; k < 6; ++k) {
    quadratic(x1, g1, a, c);
    straight.step();
  }
  Adam<double, Cpu> first({{"x", &x2, &g2}}, {.lr = 0.05});
  for (int k = 0; k < 3; ++k) {
    quadratic(x2, g2, a, c);
    first.step();
  }
  // "Checkpoint": copy the named state tensors and the step count into a fresh optimiser.
  Adam<double, Cpu> resumed({{"x", &x2, &g2}}, {.lr = 0.05});
  auto saved = first.state_tensors(), restored = resumed.state_tensors();
  for (std::size_t i = 0; i < saved.size(); ++i) *restored[i].value = *saved[i].value;
  resumed.set_step_count(first.step_count());
  for (int k = 0; k < 3; ++k) {
    quadratic(x2, g2, a, c);
    resumed.step();
  }
  const auto v1 = x1.to_host(), v2 = x2.to_host();
  for (std::size_t i = 0; i < v1.size(); ++i) CHECK(v2[i] == doctest::Approx(v1[i]).epsilon(1e-14));

  // Without the state the continuation differs: the test can tell.
  T x3 = vec({0, 0, 0}), g3 = vec({0, 0, 0});
  Adam<double, Cpu> a3({{"x", &x3, &g3}}, {.lr = 0.05});
  for (int k = 0; k < 3; ++k) {
    quadratic(x3, g3, a, c);
    a3.step();
  }
  Adam<double, Cpu> fresh({{"x", &x3, &g3}}, {.lr = 0.05});
  for (int k = 0; k < 3; ++k) {
    quadratic(x3, g3, a, c);
    fresh.step();
  }
  CHECK(std::abs(x3.to_host()[0] - v1[0]) > 1e-6);
}

TEST_CASE("Adam with a decaying learning rate reaches the minimum of a convex quadratic to 1e-6") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> curvature(0.1, 10), centre(-5, 5);
  std::vector<double> a(8), c(8);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = curvature(rng), c[i] = centre(rng);
  T x({1, 2, 2, 2}), g({1, 2, 2, 2});
  // With a constant rate Adam ends in a small limit cycle (about lr / 5 wide here); an
  // exponential schedule (through the mutable options) lets it settle.
  Adam<double, Cpu> adam({{"x", &x, &g}}, {.lr = 0.05});
  for (int k = 0; k < 3000; ++k) {
    quadratic(x, g, a, c);
    adam.options().lr *= 0.999;
    adam.step();
  }
  const auto v = x.to_host();
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(std::abs(v[i] - c[i]) < 1e-6);
}

TEST_CASE("Adam reaches the Rosenbrock minimum from (-1.2, 1) to 1e-2") {
  T x = vec({-1.2, 1}), g = vec({0, 0});
  Adam<double, Cpu> adam({{"x", &x, &g}}, {.lr = 0.01});
  for (int k = 0; k < 20000; ++k) {
    rosenbrock(x, g);
    adam.step();
  }
  const auto v = x.to_host();
  INFO("x = (" << v[0] << ", " << v[1] << ")");
  CHECK(std::hypot(v[0] - 1, v[1] - 1) < 1e-2);
}

TEST_CASE("Adam rejects invalid options") {
  using A = Adam<double, Cpu>;
  T x = vec({1}), g = vec({1}), wrong = vec({1, 2});
  const Parameters<double, Cpu> ok{{"x", &x, &g}}, mismatched{{"x", &x, &wrong}};
  CHECK_THROWS_AS(A(ok, {.beta1 = 1.0}), ArgumentError);
  CHECK_THROWS_AS(A(ok, {.lr = -1}), ArgumentError);
  CHECK_THROWS_AS(A{mismatched}, ShapeError);
  A adam(ok);
  adam.options().eps = -1;
  CHECK_THROWS_AS(adam.step(), ArgumentError);
}
