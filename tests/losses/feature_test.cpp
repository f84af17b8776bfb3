#include "perceptual/losses/feature.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/backend/cpu/loss.hpp"
#include "support/fdcheck.hpp"

using namespace perceptual;
using namespace perceptual::losses;
using T = Tensor<double, Cpu>;

TEST_CASE("feature loss of a known difference is its squared norm over C*H*W") {
  const T y = T::from_host({1, 2, 1, 2}, std::vector<double>{1, 2, 3, 4});
  const T t = T::from_host({1, 2, 1, 2}, std::vector<double>{0, 2, 3, 1});
  // difference (1, 0, 0, 3): ||.||^2 = 10, C*H*W = 4.
  const auto r = feature_loss(y, t);
  CHECK(r.value == doctest::Approx(2.5));
  CHECK(r.grad.shape() == y.shape());
  const auto g = r.grad.to_host();
  CHECK(g[0] == doctest::Approx(0.5));
  CHECK(g[1] == 0.0);
  CHECK(g[2] == 0.0);
  CHECK(g[3] == doctest::Approx(1.5));

  const auto weighted = feature_loss(y, t, 2.0);
  CHECK(weighted.value == doctest::Approx(5.0));
  CHECK(weighted.grad.to_host()[3] == doctest::Approx(3.0));
  CHECK(feature_loss(y, y).value == 0.0);
}

TEST_CASE("feature loss of a batch is the mean of the per-image losses") {
  // image 0 differs by (1, 0, 0, 3) (loss 2.5), image 1 by (2, 2, 2, 2) (loss 4).
  const T y = T::from_host({2, 2, 1, 2}, std::vector<double>{1, 2, 3, 4, 2, 2, 2, 2});
  const T t = T::from_host({2, 2, 1, 2}, std::vector<double>{0, 2, 3, 1, 0, 0, 0, 0});
  const auto r = feature_loss(y, t);
  CHECK(r.value == doctest::Approx((2.5 + 4.0) / 2));
  // d/dy of (1/2) * sum_n ||y_n - t_n||^2 / 4 is (y - t) / 4.
  CHECK(r.grad.to_host()[7] == doctest::Approx(2.0 / 4));
}

TEST_CASE("feature loss gradient matches finite differences") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const T y = testing::random_tensor<double>({2, 3, 4, 5}, rng);
  const T t = testing::random_tensor<double>({2, 3, 4, 5}, rng);
  const auto r = feature_loss(y, t, 3.0);
  testing::check_scalar_gradient(
      "d feature_loss / dy", y, [&](const T& v) { return feature_loss(v, t, 3.0).value; }, r.grad, rng);
}

TEST_CASE("feature loss of mismatched shapes throws ShapeError naming both shapes") {
  const T y({1, 2, 1, 2}), t({1, 2, 2, 1});
  CHECK_THROWS_WITH_AS(feature_loss(y, t), doctest::Contains("feature_loss"), ShapeError);
  CHECK_THROWS_WITH_AS(feature_loss(y, t), doctest::Contains("1x2x1x2"), ShapeError);
  CHECK_THROWS_WITH_AS(feature_loss(y, t), doctest::Contains("1x2x2x1"), ShapeError);
  CHECK_THROWS_AS(feature_loss(y, T({2, 2, 1, 2})), ShapeError);  // no broadcasting of the target
}
