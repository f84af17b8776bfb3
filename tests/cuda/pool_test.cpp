// CPU/CUDA parity of 2x2 max and average pooling, forward and backward, odd sizes and ties.
#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vector>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

TEST_CASE("max_pool2x2 forward and backward match the CPU backend on odd sizes") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 3, 9, 11}, rng);
  const auto dy = testing::random_tensor<float>({2, 3, 4, 5}, rng);
  const auto cx = to_cuda(x);
  CHECK(relative_error(cpu::max_pool2x2_forward(x), cuda::max_pool2x2_forward(cx)) < parity_tolerance);
  CHECK(relative_error(cpu::max_pool2x2_backward(x, dy), cuda::max_pool2x2_backward(cx, to_cuda(dy))) <
        parity_tolerance);
}

TEST_CASE("max_pool2x2 sends the gradient to the first maximum on ties and lets a NaN win, as the CPU") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Window 1: all equal (first wins); window 2: NaN in the last place.
  const std::vector<float> v{1, 1, 5, 2, 1, 1, 3, nan};
  const auto x = Tensor<float, Cpu>::from_host({1, 1, 2, 4}, v);
  const auto dy = Tensor<float, Cpu>::from_host({1, 1, 1, 2}, std::vector<float>{1, 2});
  const auto cy = cuda::max_pool2x2_forward(to_cuda(x)).to_host();
  CHECK(cy[0] == 1);
  CHECK(std::isnan(cy[1]));
  CHECK(cuda::max_pool2x2_backward(to_cuda(x), to_cuda(dy)).to_host() == cpu::max_pool2x2_backward(x, dy).to_host());
}

TEST_CASE("avg_pool2x2 forward and backward match the CPU backend on odd sizes") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 3, 7, 10}, rng);
  const auto dy = testing::random_tensor<float>({2, 3, 3, 5}, rng);
  CHECK(relative_error(cpu::avg_pool2x2_forward(x), cuda::avg_pool2x2_forward(to_cuda(x))) < parity_tolerance);
  CHECK(relative_error(cpu::avg_pool2x2_backward(dy, x.shape()), cuda::avg_pool2x2_backward(to_cuda(dy), x.shape())) <
        parity_tolerance);
}

TEST_CASE("pooling rejects a gradient of the wrong shape, naming both shapes") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const Tensor<float, Cuda> x({1, 1, 4, 4}), dy({1, 1, 3, 2});
  CHECK_THROWS_WITH_AS(cuda::max_pool2x2_backward(x, dy), doctest::Contains("1x1x2x2"), ShapeError);
}
