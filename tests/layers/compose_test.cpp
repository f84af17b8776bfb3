#include "perceptual/layers/compose.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/activation.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::layers;

static_assert(concepts::layer<Sequential<ReLU, ScaledTanh<>>>);
static_assert(concepts::layer<Residual<ReLU>>);
static_assert(concepts::layer<Repeat<3, ReLU>>);
static_assert(concepts::layer<Named<"act", ReLU>>);
static_assert(Sequential<ReLU>::in_channels == any_channels);

TEST_CASE("Residual adds its input to its body's output") {
  Model<Residual<ReLU>, Cpu> m;
  const std::vector<float> x{-2, 3};
  const auto y = m.forward(Tensor<float, Cpu>::from_host({1, 1, 1, 2}, x)).to_host();
  CHECK(y == std::vector<float>{-2, 6});
}

TEST_CASE("Repeat runs its element N times") {
  Model<Repeat<2, Residual<ReLU>>, Cpu> m;  // x -> x + relu(x), twice
  const std::vector<float> x{1, -1};
  const auto y = m.forward(Tensor<float, Cpu>::from_host({1, 1, 1, 2}, x)).to_host();
  CHECK(y == std::vector<float>{4, -1});
}

TEST_CASE("compositions pass gradients through every element") {
  testing::check_gradients<Sequential<ScaledTanh<>, Residual<ReLU, ScaledTanh<1.0, 0.0>>, Repeat<2, ReLU>>>(
      {2, 2, 3, 3});
}
