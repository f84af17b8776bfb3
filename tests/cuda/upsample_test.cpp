// CPU/CUDA parity of nearest-neighbour upsampling, forward and backward.
#include <doctest/doctest.h>

#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

TEST_CASE("upsample_nearest forward and backward match the CPU backend for factors 1, 2 and 3") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (int factor : {1, 2, 3}) {
    INFO("factor " << factor);
    const auto x = testing::random_tensor<float>({2, 3, 5, 7}, rng);
    const auto dy = testing::random_tensor<float>({2, 3, 5 * factor, 7 * factor}, rng);
    CHECK(relative_error(cpu::upsample_nearest_forward(x, factor), cuda::upsample_nearest_forward(to_cuda(x), factor)) <
          parity_tolerance);
    CHECK(relative_error(cpu::upsample_nearest_backward(dy, factor),
                         cuda::upsample_nearest_backward(to_cuda(dy), factor)) < parity_tolerance);
  }
}

TEST_CASE("upsample_nearest_backward rejects a gradient that is not a multiple of the factor") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const Tensor<float, Cuda> dy({1, 1, 5, 4});
  CHECK_THROWS_AS(cuda::upsample_nearest_backward(dy, 2), ShapeError);
}
