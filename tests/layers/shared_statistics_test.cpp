#include "perceptual/layers/shared_statistics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/compose.hpp"
#include "perceptual/layers/norm.hpp"

using namespace perceptual;
using namespace perceptual::layers;

namespace {

Tensor<double, Cpu> frame_tensor(Shape4 shape, const std::vector<double>& values) {
  return Tensor<double, Cpu>::from_host(shape, values);
}

// Two frames of one channel: A has mean 2.5 and variance 1.25, B mean 10 and variance 6.5.
const std::vector<double> frame_a{1, 2, 3, 4}, frame_b{7, 8, 12, 13};

std::vector<double> forward_shared(Model<InstanceNorm<1>, Cpu, double>& m, InstanceNormHistory& history,
                                   const std::vector<double>& frame) {
  NoGrad no_grad;
  SharedInstanceNorm shared(history);
  return m.forward(frame_tensor({1, 1, 2, 2}, frame)).to_host();
}

}  // namespace

TEST_CASE("Under SharedInstanceNorm an InstanceNorm normalises with the moving average of its statistics") {
  Model<InstanceNorm<1>, Cpu, double> m;
  InstanceNormHistory history(0.75);
  // The first frame has only its own statistics: the plain instance norm.
  const auto first = forward_shared(m, history, frame_a);
  const auto plain = m.forward(frame_tensor({1, 1, 2, 2}, frame_a)).to_host();
  for (int i = 0; i < 4; ++i) CHECK(first[i] == doctest::Approx(plain[i]).epsilon(1e-9));
  // The second: mean 0.75 * 2.5 + 0.25 * 10, variance 0.75 * 1.25 + 0.25 * 6.5.
  const auto second = forward_shared(m, history, frame_b);
  const double mean = 0.75 * 2.5 + 0.25 * 10, var = 0.75 * 1.25 + 0.25 * 6.5;
  for (int i = 0; i < 4; ++i) CHECK(second[i] == doctest::Approx((frame_b[i] - mean) / std::sqrt(var + 1e-5)));
  CHECK(history.layers() == 1);
}

TEST_CASE("InstanceNormHistory::reset makes the next frame start from its own statistics") {
  Model<InstanceNorm<1>, Cpu, double> m;
  InstanceNormHistory history(0.9);
  forward_shared(m, history, frame_a);
  history.reset();
  const auto y = forward_shared(m, history, frame_b);
  const auto plain = m.forward(frame_tensor({1, 1, 2, 2}, frame_b)).to_host();
  for (int i = 0; i < 4; ++i) CHECK(y[i] == doctest::Approx(plain[i]).epsilon(1e-9));
}

TEST_CASE("Each InstanceNorm of a network keeps its own average, told apart by call order") {
  Model<Sequential<InstanceNorm<1>, InstanceNorm<1, NoAffine>>, Cpu, double> m;
  InstanceNormHistory history(0.5);
  for (const auto& frame : {frame_a, frame_b}) {
    NoGrad no_grad;
    SharedInstanceNorm shared(history);
    m.forward(frame_tensor({1, 1, 2, 2}, frame));
  }
  CHECK(history.layers() == 2);
}

TEST_CASE("Shared instance-norm statistics refuse training and batches") {
  Model<InstanceNorm<1>, Cpu, double> m;
  InstanceNormHistory history(0.5);
  {
    SharedInstanceNorm shared(history);
    CHECK_THROWS_WITH_AS(m.forward(frame_tensor({1, 1, 2, 2}, frame_a)), doctest::Contains("NoGrad"), Error);
  }
  NoGrad no_grad;
  SharedInstanceNorm shared(history);
  CHECK_THROWS_AS(m.forward(frame_tensor({2, 1, 1, 2}, frame_a)), ShapeError);
  CHECK_THROWS_AS(InstanceNormHistory(1.0), ArgumentError);
}
