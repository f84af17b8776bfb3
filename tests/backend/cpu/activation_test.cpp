#include "perceptual/backend/cpu/activation.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::cpu;

using TensorT = Tensor<float, Cpu>;

TEST_CASE("ReLU forward and backward write into a given tensor, which may be their input") {
  std::mt19937_64 rng(testing::test_seed());
  const TensorT x = testing::random_tensor<float>({2, 3, 4, 5}, rng);
  const TensorT dy = testing::random_tensor<float>(x.shape(), rng);
  const TensorT y = relu_forward(x);
  TensorT in_place = x;
  relu_forward(in_place, in_place);
  CHECK(in_place.to_host() == y.to_host());
  const TensorT dx = relu_backward(y, dy);
  TensorT grad = dy;
  relu_backward(y, grad, grad);
  CHECK(grad.to_host() == dx.to_host());
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(dx.data()[i] == (x.data()[i] > 0 ? dy.data()[i] : 0.0f));
  TensorT wrong({2, 3, 4, 4});
  CHECK_THROWS_AS(relu_forward(x, wrong), ShapeError);
}

TEST_CASE("ReLU maps NaN to 0, as the GPU kernel does (a diverging run's trainers report it from the gradient)") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const TensorT x = TensorT::from_host({1, 1, 1, 3}, std::vector<float>{nan, -1, 2});
  CHECK(relu_forward(x).to_host() == std::vector<float>{0, 0, 2});
}
