// CPU/CUDA parity of the optimiser kernels: Adam, box projection and masks, and the norms; bf16
// Adam's float moments, against a double reference and through a checkpoint file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda/support.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/optim/adam.hpp"
#include "support/temp_dir.hpp"

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

// After one large gradient, tiny ones: the second moment decays by beta2 = 0.999 a step, a change
// of 0.1%, below half a unit in bf16's last place (at least 0.2%), so in bf16 0.999 v rounds back to
// v and v would stay at its peak (here about 2.7 times the reference after 1000 steps).
TEST_CASE("bf16 Adam keeps its moments in float: after a large gradient the second moment decays as in double") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const Shape4 s{1, 2, 8, 16};
  auto p = to_cuda<bf16>(testing::bf16_rounded(testing::random_tensor<float>(s, rng)));
  Tensor<bf16, Cuda> g(s);
  optim::Adam<bf16, Cuda> adam({{"w", &p, &g}}, {.lr = 1e-3});
  static_assert(std::is_same_v<decltype(adam.state()[0].v), Tensor<float, Cuda>>);
  const double b1 = 0.9, b2 = 0.999;
  std::vector<double> m(s.size()), v(s.size());
  for (int step = 1; step <= 1001; ++step) {
    // bf16 values, so that the reference sees exactly the gradient the device does.
    const auto host = testing::bf16_rounded(step == 1 ? testing::random_tensor<float>(s, rng, 1, 2)
                                                      : testing::random_tensor<float>(s, rng, -1e-3, 1e-3));
    g = to_cuda<bf16>(host);
    adam.step();
    const std::vector<float> gv = host.to_host();
    for (std::size_t i = 0; i < m.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * gv[i];
      v[i] = b2 * v[i] + (1 - b2) * gv[i] * gv[i];
    }
  }
  const auto reference = [&](const std::vector<double>& x) { return Tensor<double, Cpu>::from_host(s, x); };
  // float's rounding over 1000 steps, and beta2 rounded to float (1.3e-8 relative, a thousand
  // times): about 2e-5.
  const double v_error = testing::norm_relative_error(reference(v), adam.state()[0].v);
  const double m_error = testing::norm_relative_error(reference(m), adam.state()[0].m);
  CHECK(v_error < 1e-3);
  CHECK(m_error < 1e-3);
  MESSAGE("second moment error " << v_error << ", first " << m_error);
}

TEST_CASE("bf16 Adam's float moments round-trip through a checkpoint file as float32 and resume bit for bit") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const Shape4 s{1, 3, 7, 9};
  const auto start = to_cuda<bf16>(testing::bf16_rounded(testing::random_tensor<float>(s, rng)));
  std::vector<Tensor<bf16, Cuda>> grads;
  for (int k = 0; k < 6; ++k) grads.push_back(to_cuda<bf16>(testing::random_tensor<float>(s, rng)));

  auto p = start;
  Tensor<bf16, Cuda> g(s);
  optim::Adam<bf16, Cuda> adam({{"w", &p, &g}}, {.lr = 1e-2});
  for (int k = 0; k < 3; ++k) {
    g = grads[static_cast<std::size_t>(k)];
    adam.step();
  }
  const testing::TempDir dir;
  io::save_parameters(adam.state_tensors(), dir / "adam.safetensors");
  const io::SafetensorsFile file(dir / "adam.safetensors");
  CHECK(file.dtype("w.exp_avg") == io::Dtype::f32);
  CHECK(file.dtype("w.exp_avg_sq") == io::Dtype::f32);

  auto q = p;
  Tensor<bf16, Cuda> h(s);
  optim::Adam<bf16, Cuda> resumed({{"w", &q, &h}}, {.lr = 1e-2});
  io::load_parameters(resumed.state_tensors(), file);
  resumed.set_step_count(adam.step_count());
  CHECK(resumed.state()[0].m.to_host() == adam.state()[0].m.to_host());
  CHECK(resumed.state()[0].v.to_host() == adam.state()[0].v.to_host());
  for (int k = 3; k < 6; ++k) {
    g = grads[static_cast<std::size_t>(k)];
    h = grads[static_cast<std::size_t>(k)];
    adam.step();
    resumed.step();
  }
  const std::vector<bf16> a = p.to_host(), b = q.to_host();
  REQUIRE(a.size() == b.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) differing += a[i].bits != b[i].bits;
  CHECK(differing == 0);
  CHECK(resumed.state()[0].v.to_host() == adam.state()[0].v.to_host());
}
