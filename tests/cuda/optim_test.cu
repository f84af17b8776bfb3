// CPU/CUDA parity of the optimiser kernels: Adam, box projection and masks, and the norms.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

TEST_CASE("adam_update matches the CPU backend over several steps") {
  PERCEPTUAL_PARITY_CASE(rng);
  const Shape4 s{1, 3, 17, 19};
  auto p = testing::random_tensor<float>(s, rng);
  Tensor<float, Cpu> m(s), v(s);
  auto cp = to_cuda(p), cm = to_cuda(m), cv = to_cuda(v);
  for (std::int64_t step = 1; step <= 3; ++step) {
    const auto g = testing::random_tensor<float>(s, rng);
    cpu::adam_update(p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, step);
    cuda::adam_update(cp, to_cuda(g), cm, cv, 1e-2, 0.9, 0.999, 1e-8, step);
  }
  CHECK(relative_error(p, cp) < parity_tolerance);
  CHECK(relative_error(m, cm) < parity_tolerance);
  CHECK(relative_error(v, cv) < parity_tolerance);
}

TEST_CASE("box projection, masks and projected-gradient norm match the CPU backend at and inside the bounds") {
  PERCEPTUAL_PARITY_CASE(rng);
  const Shape4 s{1, 3, 12, 10};
  const float lo = 0, hi = 1;
  // Values beyond the box, clamped, so that many sit exactly on a bound.
  auto x = testing::random_tensor<float>(s, rng, -0.5, 1.5);
  auto cx = to_cuda(x);
  cpu::box_project(x, lo, hi);
  cuda::box_project(cx, lo, hi);
  CHECK(relative_error(x, cx) < parity_tolerance);
  const auto g = testing::random_tensor<float>(s, rng);
  const auto cg = to_cuda(g);
  Tensor<float, Cpu> mask;
  Tensor<float, Cuda> cmask;
  CHECK(cpu::box_free_mask(mask, x, g, lo, hi) == cuda::box_free_mask(cmask, cx, cg, lo, hi));
  CHECK(relative_error(mask, cmask) < parity_tolerance);
  auto d = testing::random_tensor<float>(s, rng);
  auto cd = to_cuda(d);
  cpu::apply_mask(d, mask);
  cuda::apply_mask(cd, cmask);
  CHECK(relative_error(d, cd) < parity_tolerance);
  auto e = testing::random_tensor<float>(s, rng);
  auto ce = to_cuda(e);
  cpu::box_mask_direction(e, x, g, lo, hi);
  cuda::box_mask_direction(ce, cx, cg, lo, hi);
  CHECK(relative_error(e, ce) < parity_tolerance);
  CHECK(relative_error(cpu::box_projected_gradient_max(x, g, lo, hi),
                       cuda::box_projected_gradient_max(cx, cg, lo, hi)) < parity_tolerance);
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(relative_error(cpu::box_projected_gradient_max(x, g, -inf, inf),
                       cuda::box_projected_gradient_max(cx, cg, -inf, inf)) < parity_tolerance);
}

TEST_CASE("max_abs and abs_sum match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 5, 33, 31}, rng, -3, 3);
  const auto cx = to_cuda(x);
  CHECK(cpu::max_abs(x) == cuda::max_abs(cx));
  CHECK(relative_error(cpu::abs_sum(x), cuda::abs_sum(cx)) < parity_tolerance);
  CHECK(cuda::max_abs(Tensor<float, Cuda>()) == 0);
}
