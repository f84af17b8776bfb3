// CPU/CUDA parity of the loss kernels: Gram matrices (cuBLAS) and their gradient, squared
// distances with a broadcast batch, squared total variation and its gradient.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

TEST_CASE("gram_forward and gram_backward match the CPU backend over a batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto f = testing::random_tensor<float>({3, 16, 9, 7}, rng);
  const auto dg = testing::random_tensor<float>({3, 1, 16, 16}, rng);  // not symmetric
  const auto cf = to_cuda(f);
  CHECK(relative_error(cpu::gram_forward(f), cuda::gram_forward(cf)) < parity_tolerance);
  CHECK(relative_error(cpu::gram_backward(f, dg), cuda::gram_backward(cf, to_cuda(dg))) < parity_tolerance);
}

TEST_CASE("squared_distance and scaled_difference match the CPU backend, with and without a broadcast batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto a = testing::random_tensor<float>({3, 4, 10, 9}, rng);
  for (int bn : {1, 3}) {
    INFO("second batch " << bn);
    const auto b = testing::random_tensor<float>({bn, 4, 10, 9}, rng);
    const auto ca = to_cuda(a), cb = to_cuda(b);
    CHECK(relative_error(cpu::squared_distance(a, b), cuda::squared_distance(ca, cb)) < parity_tolerance);
    CHECK(relative_error(cpu::scaled_difference(a, b, 0.7f), cuda::scaled_difference(ca, cb, 0.7f)) < parity_tolerance);
  }
  const Tensor<float, Cuda> bad({2, 4, 10, 9});
  CHECK_THROWS_AS(cuda::squared_distance(to_cuda(a), bad), ShapeError);
}

TEST_CASE("total_variation forward and backward match the CPU backend with separate weights") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 3, 11, 8}, rng, 0, 255);
  const auto cx = to_cuda(x);
  CHECK(relative_error(cpu::total_variation_forward(x, 0.5f, 2.0f), cuda::total_variation_forward(cx, 0.5f, 2.0f)) <
        parity_tolerance);
  CHECK(relative_error(cpu::total_variation_backward(x, 0.5f, 2.0f), cuda::total_variation_backward(cx, 0.5f, 2.0f)) <
        parity_tolerance);
}
