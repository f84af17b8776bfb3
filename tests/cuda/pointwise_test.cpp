// CPU/CUDA parity of the element-wise operations and reductions.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

namespace {

struct Inputs {
  explicit Inputs(std::mt19937_64& rng)
      : a(testing::random_tensor<float>(shape, rng)), b(testing::random_tensor<float>(shape, rng)) {}
  Shape4 shape{2, 3, 17, 13};
  Tensor<float, Cpu> a, b;
};

}  // namespace

TEST_CASE("fill, scale and axpy match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  Inputs in(rng);
  auto ca = to_cuda(in.a);
  auto cb = to_cuda(in.b);
  cpu::axpy(in.a, 0.75f, in.b);
  cuda::axpy(ca, 0.75f, cb);
  CHECK(relative_error(in.a, ca) < parity_tolerance);
  cpu::scale(in.a, -1.5f);
  cuda::scale(ca, -1.5f);
  CHECK(relative_error(in.a, ca) < parity_tolerance);
  cpu::fill(in.a, 2.5f);
  cuda::fill(ca, 2.5f);
  CHECK(relative_error(in.a, ca) == 0);
}

TEST_CASE("add and channel_affine match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  Inputs in(rng);
  const auto ca = to_cuda(in.a), cb = to_cuda(in.b);
  CHECK(relative_error(cpu::add(in.a, in.b), cuda::add(ca, cb)) < parity_tolerance);
  const std::vector<float> scale{0.5f, -2.0f, 3.0f}, shift{1.0f, 0.0f, -0.25f};
  CHECK(relative_error(cpu::channel_affine(in.a, scale, shift), cuda::channel_affine(ca, scale, shift)) <
        parity_tolerance);
  CHECK_THROWS_AS(cuda::channel_affine(ca, std::vector<float>{1.0f}, std::vector<float>{0.0f}), ShapeError);
  // Past the channels whose coefficients travel with the launch, they are copied to the device.
  const auto wide = testing::random_tensor<float>({2, cuda::detail::affine_by_value + 1, 3, 5}, rng, -1, 1);
  std::vector<float> many_scales(static_cast<std::size_t>(wide.c())), many_shifts(many_scales.size());
  for (std::size_t c = 0; c < many_scales.size(); ++c) {
    many_scales[c] = 0.5f + 0.01f * static_cast<float>(c);
    many_shifts[c] = -0.25f * static_cast<float>(c);
  }
  CHECK(relative_error(cpu::channel_affine(wide, many_scales, many_shifts),
                       cuda::channel_affine(to_cuda(wide), many_scales, many_shifts)) < parity_tolerance);
}

TEST_CASE("sum and dot match the CPU backend, accumulated in double") {
  PERCEPTUAL_PARITY_CASE(rng);
  Inputs in(rng);
  const auto ca = to_cuda(in.a), cb = to_cuda(in.b);
  const double s = cpu::sum(in.a), d = cpu::dot(in.a, in.b);
  CHECK(std::abs(cuda::sum(ca) - s) <= 1e-9 * (1 + std::abs(s)) * in.a.size());
  CHECK(std::abs(cuda::dot(ca, cb) - d) <= 1e-9 * (1 + std::abs(d)) * in.a.size());
  // Larger than one grid's worth of blocks, so the grid-stride loop is exercised.
  const auto big = testing::random_tensor<float>({4, 8, 256, 300}, rng);
  const double big_sum = cpu::sum(big);
  CHECK(std::abs(cuda::sum(to_cuda(big)) - big_sum) <= 1e-6 * (1 + std::abs(big_sum)));
}
