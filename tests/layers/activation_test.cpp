#include "perceptual/layers/activation.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::layers;

TEST_CASE("ReLU zeroes negative values and keeps positive ones") {
  Model<ReLU, Cpu> m;
  const std::vector<float> x{-2, -0.5, 0, 0.5, 3, -1};
  const auto y = m.forward(Tensor<float, Cpu>::from_host({1, 1, 2, 3}, x)).to_host();
  CHECK(y == std::vector<float>{0, 0, 0, 0.5, 3, 0});
}

TEST_CASE("ScaledTanh maps to [0, 255] and clips the 150-scale variant") {
  Model<ScaledTanh<>, Cpu, double> full;
  const std::vector<double> x{0, 1, -40, 40};
  const auto y = full.forward(Tensor<double, Cpu>::from_host({1, 1, 1, 4}, x)).to_host();
  CHECK(y[0] == doctest::Approx(127.5));
  CHECK(y[1] == doctest::Approx(127.5 * std::tanh(1.0) + 127.5));
  CHECK(y[2] == doctest::Approx(0.0));
  CHECK(y[3] == doctest::Approx(255.0));

  Model<ScaledTanh<150.0>, Cpu, double> engstrom;
  const auto z = engstrom.forward(Tensor<double, Cpu>::from_host({1, 1, 1, 4}, x)).to_host();
  CHECK(z[1] == doctest::Approx(150 * std::tanh(1.0) + 127.5));
  CHECK(z[2] == 0.0);
  CHECK(z[3] == 255.0);
}

TEST_CASE("ReLU gradients match finite differences") {
  testing::check_gradients<ReLU>({2, 3, 4, 5});
}

TEST_CASE("ScaledTanh gradients match finite differences, clipped region included") {
  testing::check_gradients<ScaledTanh<>>({2, 3, 4, 5}, {.input_lo = -2, .input_hi = 2});
  testing::check_gradients<ScaledTanh<150.0>>({2, 3, 4, 5}, {.input_lo = -3, .input_hi = 3});
}

TEST_CASE("backward before forward is an error, not a crash") {
  Model<ReLU, Cpu> m;
  CHECK_THROWS_AS(m.backward(Tensor<float, Cpu>({1, 1, 2, 2})), Error);
}
