#include "perceptual/layers/upsample.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::layers;

static_assert(concepts::layer<Upsample<2>>);
static_assert(Upsample<2>::output_size({3, 5}) == Size2{6, 10});
static_assert(Upsample<3>::output_size({1, 2}) == Size2{3, 6});
static_assert(Upsample<1>::output_size({7, 7}) == Size2{7, 7});

TEST_CASE("Upsample<2> repeats each value in a 2x2 block") {
  Model<Upsample<2>, Cpu> m;
  const auto y = m.forward(Tensor<float, Cpu>::from_host({1, 1, 2, 2}, std::vector<float>{1, 2, 3, 4}));
  CHECK(y.shape() == Shape4{1, 1, 4, 4});
  CHECK(y.to_host() == std::vector<float>{1, 1, 2, 2,  //
                                          1, 1, 2, 2,  //
                                          3, 3, 4, 4,  //
                                          3, 3, 4, 4});
  CHECK(Upsample<2>::name() == "Upsample<2>");
}

TEST_CASE("Upsample<3> works per sample and channel on non-square inputs, and backward sums each block") {
  Model<Upsample<3>, Cpu, double> m;
  const auto y = m.forward(Tensor<double, Cpu>::from_host({2, 1, 1, 2}, std::vector<double>{5, -1, 7, 0}));
  CHECK(y.shape() == Shape4{2, 1, 3, 6});
  const auto v = y.to_host();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 6; ++j) {
      CHECK(v[i * 6 + j] == (j < 3 ? 5 : -1));
      CHECK(v[18 + i * 6 + j] == (j < 3 ? 7 : 0));
    }

  std::vector<double> dy(36);
  for (int i = 0; i < 36; ++i) dy[i] = i;  // sample 0, first block: rows 0-2, columns 0-2
  const auto dx = m.backward(Tensor<double, Cpu>::from_host({2, 1, 3, 6}, dy));
  CHECK(dx.shape() == Shape4{2, 1, 1, 2});
  CHECK(dx.to_host() == std::vector<double>{0 + 1 + 2 + 6 + 7 + 8 + 12 + 13 + 14,
                                            3 + 4 + 5 + 9 + 10 + 11 + 15 + 16 + 17, 18 * 9 + 63, 18 * 9 + 90});
}

TEST_CASE("Upsample<1> is the identity") {
  Model<Upsample<1>, Cpu> m;
  const std::vector<float> x{1, -2, 3, 0.5f, 7, 8};
  CHECK(m.forward(Tensor<float, Cpu>::from_host({1, 2, 1, 3}, x)).to_host() == x);
  CHECK(m.backward(Tensor<float, Cpu>::from_host({1, 2, 1, 3}, x)).to_host() == x);
}

TEST_CASE("Upsample backward needs a forward first and a gradient of the output's shape") {
  Model<Upsample<2>, Cpu> m;
  CHECK_THROWS_AS(m.backward(Tensor<float, Cpu>({1, 1, 2, 2})), Error);
  m.forward(Tensor<float, Cpu>({1, 3, 2, 2}));
  CHECK_THROWS_WITH_AS(m.backward(Tensor<float, Cpu>({1, 3, 2, 2})),
                       "Upsample<2>: gradient 1x3x2x2, expected the output's 1x3x4x4", ShapeError);
}

TEST_CASE("Upsample gradients match finite differences") {
  testing::check_gradients<Upsample<2>>({2, 3, 3, 2});
  testing::check_gradients<Upsample<3>>({1, 2, 2, 3});
}
