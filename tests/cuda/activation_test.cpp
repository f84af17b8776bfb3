// CPU/CUDA parity of ReLU and the scaled tanh, forward and backward.
#include <doctest/doctest.h>

#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

TEST_CASE("relu_forward and relu_backward match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 4, 9, 11}, rng);
  const auto dy = testing::random_tensor<float>(x.shape(), rng);
  const auto y = cpu::relu_forward(x);
  const auto cy = cuda::relu_forward(to_cuda(x));
  CHECK(relative_error(y, cy) < parity_tolerance);
  CHECK(relative_error(cpu::relu_backward(y, dy), cuda::relu_backward(cy, to_cuda(dy))) < parity_tolerance);
}

TEST_CASE("scaled_tanh_forward and scaled_tanh_backward match the CPU backend, clipping included") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 3, 8, 8}, rng, -3, 3);
  const auto dy = testing::random_tensor<float>(x.shape(), rng);
  // Johnson's output layer: 150 * tanh(x) + 127.5, clipped to pixel values [0, 255].
  const float scale = 150, offset = 127.5f, lo = 0, hi = 255;
  const auto cx = to_cuda(x);
  CHECK(relative_error(cpu::scaled_tanh_forward(x, scale, offset, lo, hi),
                       cuda::scaled_tanh_forward(cx, scale, offset, lo, hi)) < parity_tolerance);
  CHECK(relative_error(cpu::scaled_tanh_backward(x, dy, scale, offset, lo, hi),
                       cuda::scaled_tanh_backward(cx, to_cuda(dy), scale, offset, lo, hi)) < parity_tolerance);
}
