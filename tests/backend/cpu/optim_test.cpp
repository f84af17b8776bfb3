#include "perceptual/backend/cpu/optim.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace perceptual;
using namespace perceptual::cpu;
using D = Tensor<double, Cpu>;

namespace {

D vec(std::vector<double> v) {
  const int n = static_cast<int>(v.size());
  return D::from_host({1, 1, 1, n}, v);
}

constexpr double inf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("box_project clamps to the box and leaves x alone without bounds") {
  D x = vec({-3, 0.5, 7});
  box_project(x, 0.0, 1.0);
  CHECK(x.to_host() == std::vector<double>{0, 0.5, 1});
  D y = vec({-3, 0.5, 7});
  box_project(y, -inf, inf);
  CHECK(y.to_host() == std::vector<double>{-3, 0.5, 7});
}

TEST_CASE("the binding set holds variables at a bound whose gradient pushes outward") {
  // x at lo pushed out (g > 0), at lo pushed in, inside, at hi pushed out (g < 0), at hi pushed in.
  const D x = vec({0, 0, 0.5, 1, 1}), g = vec({2, -2, 3, -1, 1});
  D mask;
  CHECK(box_free_mask(mask, x, g, 0.0, 1.0) == 2);
  CHECK(mask.to_host() == std::vector<double>{0, 1, 1, 0, 1});
  D d = vec({5, 6, 7, 8, 9});
  apply_mask(d, mask);
  CHECK(d.to_host() == std::vector<double>{0, 6, 7, 0, 9});

  // box_mask_direction also drops moves out of the box at a bound (free variable 1 moving down,
  // 4 moving up), but keeps those into it.
  D dir = vec({-1, -1, -1, 1, 1});
  box_mask_direction(dir, x, g, 0.0, 1.0);
  CHECK(dir.to_host() == std::vector<double>{0, 0, -1, 0, 0});
  D inward = vec({1, 1, 1, -1, -1});
  box_mask_direction(inward, x, g, 0.0, 1.0);
  CHECK(inward.to_host() == std::vector<double>{0, 1, 1, 0, -1});
}

TEST_CASE("the projected gradient is zero on the binding set and exact inside") {
  const D x = vec({0, 0.5, 1}), g = vec({2, -0.25, -1});
  CHECK(box_projected_gradient_max(x, g, 0.0, 1.0) == doctest::Approx(0.25));
  // A step to the bound only: x = 0.9, g = 5 gives |clamp(0.9 - 5) - 0.9| = 0.9.
  CHECK(box_projected_gradient_max(vec({0.9}), vec({5}), 0.0, 1.0) == doctest::Approx(0.9));
  // Without bounds it is max |g|, to the last digit even where |x| >> |g|.
  CHECK(box_projected_gradient_max(vec({1e8, 0}), vec({1e-9, -3e-10}), -inf, inf) == 1e-9);
}

TEST_CASE("max_abs and abs_sum") {
  CHECK(max_abs(vec({1, -4, 3})) == 4.0);
  CHECK(abs_sum(vec({1, -4, 3})) == 8.0);
  CHECK(max_abs(D({0, 0, 0, 0})) == 0.0);
}

TEST_CASE("adam_update in float matches double and checks shapes") {
  D p = vec({1, 2}), g = vec({0.5, -0.1}), m = vec({0.1, 0}), v = vec({0.01, 0.02});
  using Fl = Tensor<float, Cpu>;
  Fl pf = Fl::from_host({1, 1, 1, 2}, std::vector<float>{1, 2}),
     gf = Fl::from_host({1, 1, 1, 2}, std::vector<float>{0.5f, -0.1f}),
     mf = Fl::from_host({1, 1, 1, 2}, std::vector<float>{0.1f, 0}),
     vf = Fl::from_host({1, 1, 1, 2}, std::vector<float>{0.01f, 0.02f});
  adam_update(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 3);
  adam_update(pf, gf, mf, vf, 0.01, 0.9, 0.999, 1e-8, 3);
  // By hand for element 0: m = 0.09 + 0.05 = 0.14, v = 0.00999 + 0.00025 = 0.01024,
  // p = 1 - 0.01 * (0.14 / (1 - 0.9^3)) / (sqrt(0.01024 / (1 - 0.999^3)) + 1e-8).
  const double expected = 1 - 0.01 * (0.14 / (1 - 0.729)) / (std::sqrt(0.01024 / (1 - std::pow(0.999, 3))) + 1e-8);
  CHECK(m.to_host()[0] == doctest::Approx(0.14));
  CHECK(v.to_host()[0] == doctest::Approx(0.01024));
  CHECK(p.to_host()[0] == doctest::Approx(expected).epsilon(1e-12));
  CHECK(pf.to_host()[0] == doctest::Approx(expected).epsilon(1e-6));
  CHECK(pf.to_host()[1] == doctest::Approx(p.to_host()[1]).epsilon(1e-6));
  D wrong = vec({1, 2, 3});
  CHECK_THROWS_AS(adam_update(p, wrong, m, v, 0.01, 0.9, 0.999, 1e-8, 1), ShapeError);
}
