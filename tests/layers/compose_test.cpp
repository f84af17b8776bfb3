#include "perceptual/layers/compose.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/layers/pool.hpp"
#include "support/gradcheck.hpp"
#include "support/random.hpp"

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

TEST_CASE("Residual leaves alone a body output that its last layer keeps for backward (ReLU)") {
  // ReLU keeps its output by sharing it; an add in place would change that saved output and so
  // ReLU's mask. The gradients stay exact only if the residual adds into a new tensor.
  testing::check_gradients<Residual<Conv2d<2, 2, 1>, ReLU>>({2, 2, 3, 3});
}

TEST_CASE("a composition under NoGrad gives the same output, keeps nothing, and refuses backward") {
  using Net = Sequential<Conv2d<2, 3, 3, Reflect>, InstanceNorm<3>, ReLU, MaxPool2x2, Residual<ScaledTanh<1.0, 0.0>>,
                         ConvTranspose2d<3, 2, 3, Stride<2>>, BatchNorm<2>, ScaledTanh<>>;
  Model<Net, Cpu, double> m;
  m.initialize(3);
  std::mt19937_64 rng(4);
  const auto x = testing::random_tensor<double>({2, 2, 6, 6}, rng);
  const auto with_grad = m.forward(x).to_host();
  Tensor<double, Cpu> y;
  {
    NoGrad no_grad;
    y = m.forward(x);
  }
  CHECK(y.to_host() == with_grad);
  try {
    (void)m.backward(y);
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("NoGrad") != std::string::npos);
  }
  (void)m.forward(x);  // gradients on again: backward works
  CHECK(m.backward(y).shape() == x.shape());
}

TEST_CASE("a layer keeps its tensors by sharing them, and under NoGrad not at all") {
  Model<Sequential<Conv2d<1, 2, 3>, ReLU>, Cpu> m;
  const Tensor<float, Cpu> x({1, 1, 4, 4});
  CHECK(m.forward(x).is_shared());  // ReLU holds its output for backward: no copy
  CHECK(x.is_shared());             // and the convolution its input
  NoGrad no_grad;
  CHECK_FALSE(m.forward(x).is_shared());
  CHECK_FALSE(x.is_shared());  // the earlier forward's saved input is dropped too
}
