#include "perceptual/layers/pool.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::layers;

static_assert(concepts::layer<MaxPool2x2>);
static_assert(concepts::layer<AvgPool2x2>);
static_assert(MaxPool2x2::output_size({4, 6}) == Size2{2, 3});
static_assert(MaxPool2x2::output_size({5, 7}) == Size2{2, 3});  // odd sizes floor
static_assert(AvgPool2x2::output_size({2, 3}) == Size2{1, 1});
static_assert(AvgPool2x2::output_size({224, 224}) == Size2{112, 112});

namespace {

// A 3x5 plane: the pooled output covers rows 0-1 and columns 0-3; row 2 and column 4 are dropped.
const std::vector<double> odd_plane{1,  5,  2,  0,  90,  //
                                    3,  4,  8,  7,  60,  //
                                    99, 99, 99, 99, 99};

Tensor<double, Cpu> host(Shape4 shape, const std::vector<double>& values) {
  return Tensor<double, Cpu>::from_host(shape, values);
}

}  // namespace

TEST_CASE("MaxPool2x2 keeps each window's maximum and drops an odd last row and column") {
  Model<MaxPool2x2, Cpu, double> m;
  const auto y = m.forward(host({1, 1, 3, 5}, odd_plane));
  CHECK(y.shape() == Shape4{1, 1, 1, 2});
  CHECK(y.to_host() == std::vector<double>{5, 8});
}

TEST_CASE("MaxPool2x2 routes each gradient to its window's maximum, the first one on ties") {
  Model<MaxPool2x2, Cpu, double> m;
  m.forward(host({1, 1, 3, 5}, odd_plane));
  const auto dx = m.backward(host({1, 1, 1, 2}, {10, 20})).to_host();
  CHECK(dx == std::vector<double>{0, 10, 0, 0, 0,  //
                                  0, 0, 20, 0, 0,  //
                                  0, 0, 0, 0, 0});

  m.forward(host({1, 1, 2, 2}, {3, 3, 3, 3}));
  CHECK(m.backward(host({1, 1, 1, 1}, {1})).to_host() == std::vector<double>{1, 0, 0, 0});
  m.forward(host({1, 1, 2, 2}, {1, 2, 2, 0}));
  CHECK(m.backward(host({1, 1, 1, 1}, {1})).to_host() == std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("MaxPool2x2 pools every sample and channel separately, in float as in double") {
  Model<MaxPool2x2, Cpu> m;
  const std::vector<float> x{1, 2, 3, 4, -1, -2, -3, -4, 0, 9, 0, 0};
  const auto y = m.forward(Tensor<float, Cpu>::from_host({3, 1, 2, 2}, x));
  CHECK(y.shape() == Shape4{3, 1, 1, 1});
  CHECK(y.to_host() == std::vector<float>{4, -1, 9});
}

TEST_CASE("AvgPool2x2 averages each window and drops an odd last row and column") {
  Model<AvgPool2x2, Cpu, double> m;
  const auto y = m.forward(host({1, 1, 3, 5}, odd_plane));
  CHECK(y.shape() == Shape4{1, 1, 1, 2});
  CHECK(y.to_host() == std::vector<double>{3.25, 4.25});

  const auto dx = m.backward(host({1, 1, 1, 2}, {4, 8})).to_host();
  CHECK(dx == std::vector<double>{1, 1, 2, 2, 0,  //
                                  1, 1, 2, 2, 0,  //
                                  0, 0, 0, 0, 0});
}

TEST_CASE("pooling an input smaller than 2x2 is a ShapeError naming the layer and size") {
  CHECK_THROWS_WITH_AS(MaxPool2x2::output_size({1, 4}), "MaxPool2x2: input 1x4 is smaller than the 2x2 window",
                       ShapeError);
  CHECK_THROWS_WITH_AS(AvgPool2x2::output_size({6, 1}), "AvgPool2x2: input 6x1 is smaller than the 2x2 window",
                       ShapeError);
  Model<MaxPool2x2, Cpu> max;
  CHECK_THROWS_WITH_AS(max.forward(Tensor<float, Cpu>({1, 3, 1, 8})), doctest::Contains("MaxPool2x2"), ShapeError);
  Model<AvgPool2x2, Cpu> avg;
  CHECK_THROWS_WITH_AS(avg.forward(Tensor<float, Cpu>({1, 3, 8, 1})), doctest::Contains("AvgPool2x2"), ShapeError);
}

TEST_CASE("pool backward needs a forward first and a gradient of the output's shape") {
  Model<MaxPool2x2, Cpu> max;
  CHECK_THROWS_AS(max.backward(Tensor<float, Cpu>({1, 1, 1, 1})), Error);
  max.forward(Tensor<float, Cpu>({1, 2, 4, 4}));
  CHECK_THROWS_WITH_AS(max.backward(Tensor<float, Cpu>({1, 2, 4, 4})),
                       "MaxPool2x2: gradient 1x2x4x4, expected the output's 1x2x2x2", ShapeError);
  Model<AvgPool2x2, Cpu> avg;
  CHECK_THROWS_AS(avg.backward(Tensor<float, Cpu>({1, 1, 1, 1})), Error);
  avg.forward(Tensor<float, Cpu>({1, 2, 5, 5}));
  CHECK_THROWS_AS(avg.backward(Tensor<float, Cpu>({1, 1, 2, 2})), ShapeError);
}

TEST_CASE("pooling gradients match finite differences, odd sizes included") {
  // Random doubles: a tie within a window (a kink of max) has probability zero.
  testing::check_gradients<MaxPool2x2>({2, 3, 4, 6});
  testing::check_gradients<MaxPool2x2>({1, 2, 5, 3});
  testing::check_gradients<AvgPool2x2>({2, 3, 4, 6});
  testing::check_gradients<AvgPool2x2>({1, 2, 5, 3});
}
